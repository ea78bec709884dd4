import { components } from '../../collector/components.js';
import type { CommandIO } from '../io.js';
import { runRole } from '../run-role.js';

export function run(argv: string[], io: CommandIO): Promise<number> {
  return runRole('collector', argv, io, components);
}
