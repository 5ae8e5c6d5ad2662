/** Types of the generated network-configuration validator (validate-netconf.js, ajv standalone code). */
import type { ConfigValidator } from '../../config/generated/validate-config.js';

export declare const validate: ConfigValidator;
export default validate;
