// `@hale/crypto/node`: the node:crypto implementations the server injects (packages/* stay platform-free).
export { createNodeEd25519 } from './ed25519';
export { createNodeSealTo, createNodeSealX25519, createNodeX25519 } from './x25519';
export { createNodeHashes } from './hashes';
