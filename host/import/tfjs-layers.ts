// TF.js layers models (model.json with a Keras topology + weight shards) -> an edgetune model.
import { ModelFormatError } from '../errors';
import type { Model } from '../model';

export async function importTfjsLayersModel(modelJson: unknown, readFile: (relativePath: string) => Promise<Uint8Array>, fileName: string): Promise<Model> {
  void modelJson; void readFile;
  throw new ModelFormatError(`${fileName}: TF.js layers import is not finished yet`, fileName);
}
