export * from './databases.js'
export * from './smtp-sink.js'
