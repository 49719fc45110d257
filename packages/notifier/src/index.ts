export { ProviderDirectory, setProviderRule, parsePattern, parseProviderRule, type Provider, type ProviderRuleInput } from './provider-directory.js'
export {
  composeNotice, xarfReport, noticeKey, referenceFor, describeTimestamps, formatTimestamp, EMAIL_KINDS, type ComposedEmail, type ComposeOptions, type EmailKind, type NoticeIncident,
  type NoticeMatch, type NoticeTemplates, type Reporter,
} from './compose-notice.js'
export { createNotices, listNotices, flagReupload, DEFAULT_CREATE_OPTIONS, type CreateNoticesOptions, type CreateNoticesResult, type NoticeListing, type NoticeRequest } from './create-notices.js'
export { MatchIntake, DIRECTORY_MAX_AGE_MS, type MatchIntakeOptions, type FetchedMatch, type StoredMatch, type StoredIntakeOptions, type IntakeResult } from './match-intake.js'
export { SmtpTransport, DEFAULT_SMTP_OPTIONS, EmlDirectoryTransport, type MailTransport, type OutgoingEmail, type SendHooks } from './mail-transport.js'
export { OutboxDelivery, releaseHeld, DEFAULT_OUTBOX_OPTIONS, IN_DOUBT_POLICIES, type DeliveryResult, type InDoubtPolicy, type OutboxDeliveryOptions } from './outbox-delivery.js'
export { DnsHostResolver, parseDnsServers, DEFAULT_DNS_OPTIONS, type DnsHostResolverOptions, type HostResolver } from './host-resolver.js'
export { RdapClient, parseBootstrap, parseNetwork, DEFAULT_RDAP_OPTIONS, type RdapClientOptions, type RdapNetwork } from './rdap-client.js'
export { ProviderResolver, recordLookup, recordNotAsked, listUnassigned, NOT_ASKED_YET, DEFAULT_RESOLVER_OPTIONS, type LookupOutcome, type ProviderLookup, type ProviderResolverOptions, type ResolvedProvider, type UnassignedHost } from './provider-resolver.js'
export { AckLinks, createAckHandler, recordAck, ackView, ACK_ANSWERS, DEFAULT_ACK_TTL_HOURS, DISPUTE_MESSAGE_MAX, type AckAnswer, type AckLinkOptions, type AckView } from './ack-links.js'
export { enqueueNoticeEmail, composeNoticeEmail, loadNoticeTemplates, messageIdFor, incidentOf, type NoticeMailContext, type NoticeForMail, type NoticeEmail } from './notice-mail.js'
export { Rechecker, CHECK_OUTCOMES, DEFAULT_RECHECK_OPTIONS, type CheckOutcome, type CheckResult, type RecheckDependencies, type RecheckOptions, type RecheckResult } from './recheck.js'
export { assignProviders, DEFAULT_ASSIGN_OPTIONS, type AssignProvidersOptions, type AssignResult } from './assign-providers.js'
export { noticeStats, noticeHistory, percentile, type NoticeStats, type RemovalStats, type NoticeHistory } from './notice-stats.js'
export { NotifierService, notifierOptionsFromConfig, type NotifierServiceOptions, type PassResult } from './notifier-service.js'
export { NotifyScheduler, createBoss, pgBossOverPglite, NOTIFY_QUEUES, DEFAULT_SCHEDULER_OPTIONS, type NotifySchedulerOptions, type PgliteLike } from './notify-scheduler.js'
