/** Types of scripts/generate-validator.mjs, for the tests that keep its output fresh. */
export declare const VALIDATOR_PATH: string;
export declare const NETCONF_VALIDATOR_PATH: string;
export declare const NETCONF_ORIGIN: string;
export declare function validatorSource(schema: object, origin?: string): string;
