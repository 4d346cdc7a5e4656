/** The kinds of read-model target now live in the registry of backends (backends.ts). */
export { targetKinds, type FreshTarget, type KindName, type RawConnection, type TargetKind } from './backends.js';
