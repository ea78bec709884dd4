// Pure builders of the files a Kafka node needs: server.properties and the log4j2 config.
// Kept free of I/O so the settings are easy to read in one place and to test.

/**
 * @typedef {object} NodePorts
 * @property {number} id          node.id (1-based)
 * @property {number} client      the listener clients use (PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL)
 * @property {number} internal    inter-broker listener, always PLAINTEXT on loopback
 * @property {number} controller  KRaft controller listener, PLAINTEXT on loopback
 */

/**
 * @typedef {object} SecurityConfig
 * @property {boolean} sasl   SCRAM-SHA-256/512 on the client listener
 * @property {{ keystore: string, truststore: string, password: string } | null} tls
 */

/**
 * @param {{ sasl: boolean, tls: boolean }} s
 * @returns {'PLAINTEXT' | 'SASL_PLAINTEXT' | 'SSL' | 'SASL_SSL'}
 */
export function clientProtocol(s) {
  if (s.sasl) return s.tls ? 'SASL_SSL' : 'SASL_PLAINTEXT';
  return s.tls ? 'SSL' : 'PLAINTEXT';
}

/**
 * server.properties for one combined broker+controller node (KRaft).
 * @param {{ node: NodePorts, nodes: NodePorts[], logDir: string, security: SecurityConfig, host?: string }} p
 * @returns {string}
 */
export function serverProperties(p) {
  const host = p.host ?? '127.0.0.1';
  const n = p.nodes.length;
  const rf = Math.min(3, n);
  const proto = clientProtocol({ sasl: p.security.sasl, tls: p.security.tls !== null });
  /** @type {Record<string, string | number>} */
  const props = {
    'process.roles': 'broker,controller',
    'node.id': p.node.id,
    // Static voters: every node is a controller, known before start, so format needs no
    // --standalone/--initial-controllers and the quorum survives losing one node of three.
    'controller.quorum.voters': p.nodes.map((x) => `${x.id}@${host}:${x.controller}`).join(','),
    listeners: `CLIENT://${host}:${p.node.client},INTERNAL://${host}:${p.node.internal},CONTROLLER://${host}:${p.node.controller}`,
    'advertised.listeners': `CLIENT://${host}:${p.node.client},INTERNAL://${host}:${p.node.internal}`,
    'listener.security.protocol.map': `CLIENT:${proto},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'INTERNAL',
    'log.dirs': p.logDir,
    // Sized for a 2-core machine shared with the tests themselves.
    'num.network.threads': 2,
    'num.io.threads': 2,
    'num.recovery.threads.per.data.dir': 1,
    'background.threads': 2,
    'num.partitions': 1,
    'default.replication.factor': rf,
    'min.insync.replicas': 1,
    // Internal topics: replicated as far as the cluster allows, and fewer partitions than the
    // default 50, which costs seconds of start-up and of the first group/transaction lookup.
    'offsets.topic.replication.factor': rf,
    'offsets.topic.num.partitions': 5,
    'transaction.state.log.replication.factor': rf,
    'transaction.state.log.min.isr': Math.min(2, rf),
    'transaction.state.log.num.partitions': 5,
    'share.coordinator.state.topic.replication.factor': rf,
    'share.coordinator.state.topic.min.isr': Math.min(2, rf),
    'group.initial.rebalance.delay.ms': 0,
    // Failover within seconds rather than the production defaults' tens of seconds.
    'broker.heartbeat.interval.ms': 500,
    'broker.session.timeout.ms': 3000,
    'replica.lag.time.max.ms': 5000,
    'controller.quorum.election.timeout.ms': 1000,
    'controller.quorum.fetch.timeout.ms': 2000,
    'controlled.shutdown.enable': 'true',
    'auto.create.topics.enable': 'true',
    'log.segment.bytes': 16 * 1024 * 1024,
    'delete.topic.enable': 'true',
  };
  if (p.security.sasl) {
    props['sasl.enabled.mechanisms'] = 'SCRAM-SHA-256,SCRAM-SHA-512';
    // The server side of SCRAM needs only the login module: credentials live in the metadata
    // log (added by `format --add-scram`), and the inter-broker listener is PLAINTEXT.
    for (const m of ['scram-sha-256', 'scram-sha-512']) {
      props[`listener.name.client.${m}.sasl.jaas.config`] = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    }
  }
  if (p.security.tls) {
    const t = p.security.tls;
    props['listener.name.client.ssl.keystore.location'] = t.keystore;
    props['listener.name.client.ssl.keystore.password'] = t.password;
    props['listener.name.client.ssl.key.password'] = t.password;
    props['listener.name.client.ssl.keystore.type'] = 'PKCS12';
    props['listener.name.client.ssl.truststore.location'] = t.truststore;
    props['listener.name.client.ssl.truststore.password'] = t.password;
    props['listener.name.client.ssl.truststore.type'] = 'PKCS12';
    props['listener.name.client.ssl.client.auth'] = 'none';
  }
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/**
 * log4j2 config: everything to the node's server.log; warnings and errors also to stdout (which
 * the harness keeps in a file, or shows in the foreground mode).
 * @param {string} logFile
 * @returns {string}
 */
export function log4j2Properties(logFile) {
  return `status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${logFile}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
appender.out.filter.threshold.type = ThresholdFilter
appender.out.filter.threshold.level = warn
rootLogger.level = info
rootLogger.appenderRef.file.ref = FILE
rootLogger.appenderRef.out.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
`;
}
