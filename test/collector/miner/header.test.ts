import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { stripHeader } from '../../../collector/miner/header.js';
import { scale } from '../../support/scale.js';

describe('stripHeader: generic header detection', () => {
  it.each([
    // log4j / Java
    ['2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for application x', 'Created MRAppMaster for application x'],
    ['2015-10-18 18:01:47,978 INFO [RMCommunicator Allocator] org.apache.hadoop.ipc.Client: Address change detected.', 'Address change detected.'],
    ['17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: yarn,curi', 'Changing view acls to: yarn,curi'],
    ['2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200', 'Notification time out: 3200'],
    ['081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_1 terminating', 'PacketResponder 1 for block blk_1 terminating'],
    // syslog (RFC 3164)
    ['Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186', 'Invalid user webmaster from 173.234.31.186'],
    // Apache error log: the bracketed client is part of the message
    ['[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties', 'workerEnv.init() ok /etc/httpd/conf/workers2.properties'],
    ['[Sun Dec 04 20:47:17 2005] [error] [client 1.2.3.4] Directory index forbidden by rule: /var/www/html/', '[client 1.2.3.4] Directory index forbidden by rule: /var/www/html/'],
    // ISO timestamp, Python logging style
    ['2024-01-02T03:04:05.678Z WARNING app.worker: queue is full', 'queue is full'],
    // numeric ids, epoch seconds, then the message
    ['134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: Component x', 'Component State Change: Component x'],
    ['- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected', 'instruction cache parity error corrected'],
  ])('%s', (line, message) => {
    expect(stripHeader(line)).toBe(message);
  });

  it.each([
    // bare messages are left alone, even when they start with a level word or a big number
    'ERROR IN CONTACTING RM.',
    '1365301360 double-hummer alignment exceptions',
    'Notification time out: 3200',
    'Failed password for root from 1.2.3.4 port 22 ssh2',
    'running',
    '',
  ])('leaves %s alone', (line) => {
    expect(stripHeader(line)).toBe(line);
  });

  it('never throws and returns a suffix of the line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(s.endsWith(stripHeader(s))).toBe(true);
      }),
      { numRuns: scale(200, 2_000) },
    );
  });
});
