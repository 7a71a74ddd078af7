/** Groups on MLS (RFC 9420) via ts-mls; see PROTOCOL.md "Groups (MLS)". */
export {
  decodeLeafBinding,
  LABEL_MLS_LEAF,
  type LeafIdentity,
  leafBindingStatement,
  type MemberCheck,
  signLeafBinding,
  verifyLeafBinding,
} from './binding.js';
export { MlsGroup, welcomeKeyPackageRefs } from './group.js';
export {
  type DeviceRef,
  type GroupEvent,
  type GroupMember,
  MLS_RETAIN_EPOCHS,
  type MlsDeps,
  type PendingCommit,
} from './group-support.js';
export {
  createLeafSigner,
  decodeKeyPackage,
  generateKeyPackages,
  KEY_PACKAGE_LIFETIME_MS,
  keyPackageRef,
  type LeafSigner,
  type LocalKeyPackage,
} from './key-packages.js';
export { MLS_CIPHERSUITE, mlsSuite } from './suite.js';
