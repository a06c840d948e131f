export { CHECKPOINT_FORMAT, checkpointMetadata, compareNames, formatProblems, loadCheckpoint, loadPart, readCheckpoint, saveCheckpoint } from './checkpoint';
export type { NameProblem } from './checkpoint';
export { SafetensorsFile, encodeSafetensors, loadSafetensors, parseSafetensors, sha256Hex, writeFileAtomic } from './safetensors';
export type { SafetensorsDtype, SafetensorsEntry, TensorToWrite } from './safetensors';
export { importTorchvisionBackbone, torchvisionKeys } from './torchvision';
export type { TorchvisionImportOptions } from './torchvision';
