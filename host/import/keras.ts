// Keras .keras (zip) and legacy .h5 -> an edgetune model.
import { ModelFormatError } from '../errors';
import type { Model } from '../model';

export async function importKeras(bytes: Uint8Array, fileName: string): Promise<Model> {
  void bytes;
  throw new ModelFormatError(`${fileName}: Keras import is not finished yet`, fileName);
}
