// PyTorch state dicts in safetensors -> the weights of a given edgetune model.
import { ModelFormatError } from '../errors';
import type { Model } from '../model';

export function importPytorchSafetensors(bytes: Uint8Array, model: Model, options: { mapping?: Record<string, string> }, fileName: string): Model {
  void bytes; void options;
  throw new ModelFormatError(`${fileName}: PyTorch import is not finished yet (model ${model.name})`, fileName);
}
