// `@hale/release`: the signed release manifest of the installed web app and the checks its service worker
// makes (pure: no Node, no DOM). Signing and hashing a build's files is `@hale/release/node`.
export {
  MAX_RELEASE_FILES,
  RELEASE_FILE,
  RELEASE_LABEL,
  ReleaseFile,
  ReleaseManifest,
  ReleaseSignature,
  SignedRelease,
  manifestText,
  sequenceOfVersion,
  signedBytes,
} from './manifest';
export {
  checkFile,
  checkRelease,
  releaseKeyId,
  type ReleaseCheck,
  type ReleaseRefusal,
  type ReleaseTrust,
} from './verify';
export { DEV_RELEASE_PUBLIC_KEY } from './dev-key';
export {
  ReleaseEventSchema,
  ReleaseRefused,
  createReleaseUpdater,
  type StoredFile,
  type ReleaseUpdater,
  type ReleaseEvent,
  type UpdaterDeps,
  type ReleaseCache,
} from './updater';
