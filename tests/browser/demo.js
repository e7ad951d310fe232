/*
 * demo.js: realistic deliveries for the inbox (what Argo CD's templates
 * send, plus the mistakes people make), for screenshots and for trying the
 * page by hand:
 *
 *	node tests/browser/demo.js http://127.0.0.1:7007 TOKEN
 *
 * Node's fetch only; the browser tests require() it too.
 */
'use strict';

const SEND = '/api/notifications/notifications';
const ARGO = 'https://argocd.example.com/applications/argocd/';

/* Argo CD's guide: the Backstage service template. */
function argo(app, entity, title, description, severity, topic, extra) {
	return {
		recipients: { type: 'entity', entityRef: entity },
		payload: Object.assign({ title, description, severity, topic,
		    link: ARGO + app }, extra || {}),
	};
}

const DELIVERIES = [
	{ body: argo('ledger-api', 'component:payments/ledger-api',
	    'ledger-api deployed',
	    'Application **ledger-api** is now running new version ' +
	    '`v2.14.0`.\n\nSync operation succeeded in 41 s.',
	    'normal', 'argocd-deployed') },
	{ body: {
		recipients: { type: 'broadcast' },
		payload: { title: 'Argo CD maintenance tonight, 22:00 UTC',
		    description: 'Syncs are paused for about *15 minutes* ' +
		    'while the controller is upgraded.', severity: 'low',
		    topic: 'maintenance' },
	} },
	{ body: argo('payment-gateway', 'component:default/payment-gateway',
	    'payment-gateway sync is running',
	    'Sync of **payment-gateway** started by _ci-bot_ (revision ' +
	    '`9e1c03b`).', 'low', 'argocd-sync-running') },
	{ body: argo('order-service', 'component:default/order-service',
	    'order-service synced',
	    'Application **order-service** has been successfully synced ' +
	    'to revision `4f2a9c1`.\n\nDetails: ' + ARGO +
	    'order-service?operation=true', 'normal', 'argocd-sync-succeeded') },
	{ body: argo('platform', 'group:default/platform-team',
	    '3 applications out of sync',
	    '**order-service**, **payment-gateway** and **ledger-api** ' +
	    'differ from Git.\nRun a sync or check the diff.', 'high',
	    'argocd-out-of-sync') },
	/* Argo CD without `Content-Type: application/json` in its webhook
	 * headers: Backstage answers 400, notimock says why. */
	{ body: argo('checkout-web', 'component:default/checkout-web',
	    'checkout-web deployed', 'Application **checkout-web** is ' +
	    'running `v1.9.3`.', 'normal', 'argocd-deployed'),
	    contentType: null },
	{ body: argo('order-service', 'component:default/order-service',
	    'order-service health degraded',
	    'Application **order-service** has degraded.\n\n' +
	    'Pod `order-service-7c9f` is in *CrashLoopBackOff*.',
	    'high', 'argocd-health-degraded') },
	{ body: argo('checkout-web', 'user:default/alice',
	    'Your deploy of checkout-web finished',
	    'checkout-web `v1.9.3` is live. Nice one.', 'normal',
	    'argocd-deployed') },
	/* A token that is not configured. */
	{ body: argo('ledger-api', 'component:payments/ledger-api',
	    'ledger-api deployed', 'Application **ledger-api** is running ' +
	    '`v2.14.1`.', 'normal', 'argocd-deployed'),
	    token: 'argocd-old-token-00000000000000' },
	{ body: argo('payment-gateway', 'component:default/payment-gateway',
	    'payment-gateway sync failed',
	    'Application **payment-gateway** sync is *Failed*.\n\n' +
	    'Error: `one or more objects failed to apply: Deployment ' +
	    'payment-gateway is invalid`\n\nSee ' + ARGO + 'payment-gateway',
	    'critical', 'argocd-sync-failed') },
];

async function post(base, token, body, contentType) {
	/* Argo CD's notifications controller is a Go program. */
	const headers = { Authorization: 'Bearer ' + token,
	    'User-Agent': 'Go-http-client/1.1' };
	if (contentType !== null)
		headers['Content-Type'] = contentType || 'application/json';
	/* Bytes, not a string: fetch would add a text/plain Content-Type. */
	const res = await fetch(base + SEND, { method: 'POST', headers,
	    body: Buffer.from(JSON.stringify(body)) });
	await res.text();
	return res.status;
}

/* Send the demo deliveries one after the other (oldest first); returns
 * their HTTP statuses. */
async function seedDemo(base, token) {
	const out = [];
	for (const d of DELIVERIES)
		out.push(await post(base, d.token || token, d.body,
		    d.contentType));
	return out;
}

module.exports = { seedDemo, post, SEND };

if (require.main === module) {
	const [base, token] = process.argv.slice(2);
	if (!base || !token) {
		console.error('usage: node demo.js BASE_URL TOKEN');
		process.exit(1);
	}
	seedDemo(base.replace(/\/+$/, ''), token).then((s) => {
		console.log('sent ' + s.length + ' deliveries: ' + s.join(' '));
	}, (e) => {
		console.error(e.message);
		process.exit(1);
	});
}
