// The library under test, as users import it.
export * from '../../src/index.js';
export { NLM_F_DUMP_INTR as NLM_F_DUMP_INTR_FOR_TESTS } from '../../src/netlink/message.js';
