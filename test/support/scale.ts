/** Heavy tests size themselves from TW_SCALE: `small` (default, CI) or `full` (bench runs). */
export function scale(small: number, full: number): number {
  return process.env.TW_SCALE === 'full' ? full : small;
}
