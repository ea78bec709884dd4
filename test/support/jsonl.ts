/**
 * JSON lines a running process is still appending to (the file sink's output): only lines whose
 * newline is written are records; the text after the last newline may be one being written.
 */
export function completeJsonLines(text: string): unknown[] {
  const end = text.lastIndexOf('\n');
  if (end === -1) return [];
  return text
    .slice(0, end)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}
