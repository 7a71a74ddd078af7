export { type TestCertificates, testCertificates } from './certs.js';
export { type ClusterNode, type NatsCluster, startNatsCluster } from './cluster.js';
export {
  freePort,
  hasBinary,
  natsOptions,
  type RunningServer,
  type StartOptions,
  startNats,
  startRedis,
  uniquePrefix,
  waitForPort,
} from './servers.js';
export {
  repoRoot,
  type ServiceName,
  type ServiceProcess,
  type Stack,
  type StackOptions,
  spawnService,
  startStack,
  waitReady,
} from './stack.js';
export { CHROMIUM, chromiumAvailable, ensureWebBuild, isCI, launchChromium } from './web.js';
