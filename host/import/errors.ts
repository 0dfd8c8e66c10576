// Errors shared by the importers: an operator the importer cannot express as edgetune layers. It
// is always reported (op type, node name, file), never skipped.
import { ModelFormatError } from '../core/errors';

export class UnsupportedOpError extends ModelFormatError {
  constructor(readonly op: string, readonly node: string, source: string, detail = '') {
    super(`${source}: node '${node}' uses op '${op}', which the importer does not support${detail ? `: ${detail}` : ''}`, source, node);
    (this as { code: string }).code = 'UnsupportedOp';
  }
}
