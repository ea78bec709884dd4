import { components } from '../../agent/components.js';
import type { CommandIO } from '../io.js';
import { runRole } from '../run-role.js';

export function run(argv: string[], io: CommandIO): Promise<number> {
  return runRole('agent', argv, io, components);
}
