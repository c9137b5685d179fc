/**
 * milvus-refresh-emulator: a gRPC server that speaks Milvus 3.0's protocol for external-collection refresh
 * jobs, for tests of anything that drives those jobs. See the package README for what it reproduces.
 */
export {
  type EmulatorAuth,
  type EmulatorClock,
  type EmulatorOptions,
  type EmulatorTls,
  MilvusEmulator,
  OffsetClock,
  type RpcRecord,
  type SeedCollection,
  startEmulator,
} from './server.js';
export { DEFAULT_TIMINGS, type JobBehaviour, type JobInfo, type RefreshState, type Timings } from './state.js';
export { Code, MilvusError } from './errors.js';
