export { openApp, withApp, type App } from './app.js'
export { runCrawl, type CrawlRunResult } from './run-crawl.js'
export { demoListLines, prepareDemo, DEMO_LIST, DEMO_PROVIDER } from './commands/demo.js'
