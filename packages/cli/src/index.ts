export { openApp, withApp, type App } from './app.js'
export { runCrawl, openCrawlSession, type CrawlRunResult, type CrawlSession } from './run-crawl.js'
export { demoListLines, prepareDemo, DEMO_LIST, DEMO_PROVIDER } from './commands/demo.js'
