// @hale/platform-node: what a Node host (a CLI, a test, Electron's main process) gives @hale/client's openHale.
export { nodePlatform, nodeWebSocket, type NodePlatformOptions } from './node-platform';
export { fileVault, VaultFileError, type VaultFileErrorCode } from './file-vault';
