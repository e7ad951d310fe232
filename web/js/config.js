/*
 * config.js: the inbox's constants: sizes, storage keys, the send route,
 * and the fixed groups of the sidebar.
 */

export const SEVERITIES = ['critical', 'high', 'normal', 'low'];

export const FIRST_FULL = 100;		/* newest deliveries loaded in full at start */

export const PAGE = 1000;		/* the assertion API's largest page */

/* Summaries per request while loading: each request holds the server's
 * one event loop while it is answered, ~20 us a summary on a big store,
 * so smaller pages keep other clients (a test's POST, a health probe)
 * waiting no more than a few ms (issue 11). */
export const SUMMARY_PAGE = 250;

export const LOAD_MAX = 10000;		/* summaries kept in memory */

export const FULL_CACHE = 600;		/* full deliveries kept in memory */

export const ROWS = 50;		/* rows rendered per "Show older" */

export const FETCHES = 4;		/* parallel fetches of full deliveries */

export const MD_MAX = 20000;		/* longer descriptions are shown as plain text */

export const JSON_MAX = 300000;	/* longer bodies are not highlighted */

export const FRESH_MS = 2500;		/* how long a new row stays highlighted */

export const READ_KEY = 'notimock.read.v1';

export const READ_MAX = 50000;

export const TOKEN_KEY = 'notimock.adminToken';

export const SEND_PATH = '/api/notifications/notifications';

export const G_ALL = 'all', G_REJECTED = 'rejected', G_BROADCAST = 'broadcast',
    G_OTHER = 'other';

export const FIXED_GROUPS = [
	{ id: G_ALL, label: 'All deliveries', icon: '\u25a4' },
	{ id: G_REJECTED, label: 'Rejected', icon: '\u2716' },
	{ id: G_BROADCAST, label: 'Broadcasts', icon: '\u25ce' },
	{ id: G_OTHER, label: 'Other API calls', icon: '\u21c4' },
];
