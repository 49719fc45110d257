export * from './databases.js'
export * from './smtp-sink.js'
export * from './dns-server.js'
export * from './rdap-server.js'
