// The typed error of the safetensors reader and writer: a code named after the reference
// implementation's error (huggingface/safetensors SafeTensorError), the tensor and the source file.

export type SafetensorsErrorCode =
  | 'HeaderTooSmall'
  | 'HeaderTooLarge'
  | 'InvalidHeaderLength'
  | 'InvalidHeaderDeserialization'
  | 'InvalidOffset'
  | 'ValidationOverflow'
  | 'TensorInvalidInfo'
  | 'MetadataIncompleteBuffer'
  | 'InvalidDtype' // unknown dtype string (the reference reports it as InvalidHeaderDeserialization)
  | 'InvalidTensorInfo'; // malformed entry (likewise a deserialization error in the reference)

export class SafetensorsError extends Error {
  readonly code: SafetensorsErrorCode;
  readonly tensor?: string;
  readonly source?: string;

  constructor(code: SafetensorsErrorCode, detail: string, where: { tensor?: string; source?: string } = {}) {
    super(`${where.source !== undefined ? `${where.source}: ` : ''}${code}: ${detail}`);
    this.name = 'SafetensorsError';
    this.code = code;
    if (where.tensor !== undefined) this.tensor = where.tensor;
    if (where.source !== undefined) this.source = where.source;
  }
}
