import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MASKS, VAR, isVariablePiece, render, tokenize } from '../../../collector/miner/tokenize.js';

const tpl = (line: string): string => {
  const t = tokenize(line);
  return render(t.tokens, t.space);
};

describe('tokenize: generic masks', () => {
  it.each([
    // [line, template]
    ['Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010', 'Receiving block <*> src: <*>:<*> dest: <*>:<*>'],
    ['Failed password for root from 112.95.230.3 port 48958 ssh2', 'Failed password for root from <*> port <*> ssh2'],
    ['took 12ms at 2015-10-18T18:01:47.978Z', 'took <*> at <*>'],
    ['peer fe80::1ff:fe23:4567:890a left', 'peer <*> left'],
    ['user 123e4567-e89b-12d3-a456-426614174000 logged in', 'user <*> logged in'],
    ['opened /var/log/app.log and ~/notes and ./run.sh', 'opened <*> and <*> and <*>'],
    ['opened C:\\Temp\\x.log', 'opened <*>'],
    ['mac 00:1a:2b:3c:4d:5e at 18:01:47,978 via eth0', 'mac <*> at <*> via eth0'],
    ['estimated size 93.0 B, free 317.1 KB', 'estimated size <*>, free <*>'],
    ['illegal instruction......0', 'illegal instruction......<*>'],
    ['GET https://example.com/a?b=1 done', 'GET https://<*> done'],
    ['status=500 ms=12.5 host=web-1.example.com', 'status=<*> ms=<*> host=<*>'],
    ['changed at Fri Jul 01 08:16:53 PDT 2005', 'changed at <*> PDT <*>'],
    ['generating core.12345', 'generating core.<*>'],
    ['Starting Socket Reader #3 for port 8020', 'Starting Socket Reader #<*> for port <*>'],
    ['Retrying connect to server: host-1:8030. Already tried 3 time(s)', 'Retrying connect to server: <*>:<*>. Already tried <*> time(s)'],
    ['ask 10.0.0.1:50010 to delete blk_1 blk_22 blk_333 blk_4444', 'ask <*>:<*> to delete <*>'],
    ['allocateBlock: /a/b.txt blk_-123', 'allocateBlock: <*> <*>'],
    ['fp cr field .............0', 'fp cr field .............<*>'],
    ['Old: msra-sa-41/10.190.173.170:8030 New: msra-sa-41:8030', 'Old: <*>/<*>:<*> New: <*>:<*>'],
    ['from MININT-FNANLI5/127.0.0.1 to x', 'from <*>/<*> to x'],
    ['Found block broadcast_9 locally', 'Found block <*> locally'],
    ['fault at 0x7fff5fbff8c8 hash deadbeefcafe', 'fault at <*> hash <*>'],
    ['mail to ops@example.com queued', 'mail to <*> queued'],
    ['reverse mapping for ns.example.com [1.2.3.4] failed', 'reverse mapping for <*> [<*>] failed'],
    ['date 2005.06.03 and 17/06/09', 'date <*> and <*>'],
    ['offset -42 and +7', 'offset <*> and <*>'],
  ])('%s', (line, want) => {
    expect(tpl(line)).toBe(want);
  });

  it.each([
    // names with a digit glued to letters, dotted config keys and plain words stay constant
    ['ssh2', false], ['eth0', false], ['log4j', false], ['IPv4', false], ['mapred.task.id', false],
    ['hadoop-metrics2.properties', false], ['workerEnv.init()', false], ['preauth', false],
    // numbers, ids and counters after a separator are variables
    ['42', true], ['-1', true], ['3.5ms', true], ['node-7', true], ['core.12345', true], ['#3', true],
    ['job_1445144423722_0020', true], ['/etc/hosts', true],
  ])('isVariablePiece(%s) = %s', (piece, want) => {
    expect(isVariablePiece(piece)).toBe(want);
  });

  it('splits structural punctuation into tokens, so key=value pairs line up', () => {
    expect(tokenize('a=1, b=[x]').tokens).toEqual(['a', '=', VAR, ',', 'b', '=', '[', 'x', ']']);
  });

  it('records which tokens followed whitespace, and renders them back', () => {
    const t = tokenize('  Got  exception:  foo(bar)  ');
    expect(t.tokens).toEqual(['Got', 'exception', ':', 'foo', '(', 'bar', ')']);
    expect(render(t.tokens, t.space)).toBe('Got exception: foo(bar)');
  });

  it('caps the token count and ends a long line with one variable', () => {
    const line = Array.from({ length: 1000 }, (_, i) => `w${String.fromCharCode(97 + (i % 26))}`).join(' ');
    const t = tokenize(line, 50);
    expect(t.tokens.length).toBe(50);
    expect(t.tokens[49]).toBe(VAR);
  });

  it('returns no tokens for an empty or blank line', () => {
    expect(tokenize('').tokens).toEqual([]);
    expect(tokenize(' \t ').tokens).toEqual([]);
  });

  it('lists every mask in the README table of generic masks', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Log patterns (template mining)'));
    expect(section.length).toBeGreaterThan(0);
    for (const m of MASKS) expect(section).toContain(`| ${m.name} |`);
  });
});

// The tokenizer remembers words split at delimiters by their place in the line and timestamp
// shapes (bench/miner.mjs); a remembered word must give what it gave the first time, whatever
// line it comes back in.
describe('tokenize: words seen before give the same tokens', () => {
  const again = (line: string): void => {
    const first = tokenize(line);
    for (let k = 0; k < 3; k++) expect(tokenize(line)).toEqual(first);
  };

  it('replays a word with delimiters, its space and its digits (which let a list collapse)', () => {
    // `"qv/12"` holds the line's only digits: without them the three paths would stay apart.
    expect(tpl('copy "qv/12" /a /b /c done')).toBe('copy "<*>" <*> done');
    again('copy "qv/12" /a /b /c done');
    expect(tpl('copy "qv/12" /a /b /c done')).toBe('copy "<*>" <*> done');
    // The same word at the same place after a space, and glued to nothing before it.
    expect(tokenize('copy "qv/12" /a /b /c done').space).toEqual(tokenize('copy  "qv/12"  /a /b /c done').space);
  });

  it('replays a month name inside a word, so that it is still masked next to a number', () => {
    expect(tpl('since (Jan 5 ok')).toBe('since (<*> <*> ok');
    again('since (Jan 5 ok');
    expect(tpl('since (Jan 5 ok')).toBe('since (<*> <*> ok');
    expect(tpl('since (Jan, ok')).toBe('since (Jan, ok');
  });

  it('masks timestamps of one shape alike whatever their month, day and time', () => {
    for (const t of ['[10/Oct/2026:13:55:36', '[11/Feb/2026:01:02:03', '[28/Jan/2026:23:59:59', '[01/Oct/2026:00:00:00']) {
      expect(tpl(`1.2.3.4 - - ${t} +0000] "GET / HTTP/1.1" 200`)).toBe('<*> - - [<*> <*>] "GET / <*>" <*>');
    }
  });

  it('keeps a remembered word out of a longer word that starts with it', () => {
    again('x "Gecko/1" y');
    expect(tpl('x "Gecko/1"z y')).toBe('x "<*>"z y');
    expect(tpl('x "Gecko/1"')).toBe('x "<*>"');
  });
});
