// The workspace holds two copies of @polkadot/types-codec/-create at the SAME version (16.5.6): one nested under
// @polkadot/types, one beside @polkadot/api. polkadot-js warns about every duplicate on import; this flag (honoured
// only when the versions are identical) silences that noise on operators' terminals. Imported first by index.ts.
process.env.POLKADOTJS_DISABLE_ESM_CJS_WARNING ??= "1";
