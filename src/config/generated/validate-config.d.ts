/** Types of the generated `--config` validator (validate-config.js, ajv standalone code). */

/** One problem ajv found, as its `ErrorObject` has it. */
export interface ValidationError {
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly keyword: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly message?: string;
}

export interface ConfigValidator {
  (data: unknown): boolean;
  /** The problems of the last call; null after a valid one. */
  errors?: ValidationError[] | null;
}

export declare const validate: ConfigValidator;
export default validate;
