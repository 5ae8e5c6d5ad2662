/** Types of scripts/generate-validator.mjs, for the test that keeps its output fresh. */
export declare const VALIDATOR_PATH: string;
export declare function validatorSource(schema: object): string;
