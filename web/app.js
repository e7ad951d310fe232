/*
 * app.js: notimock's inbox, its entry module.  Plain browser JavaScript,
 * no framework, no build step: ES modules (js/*.js) served as they are.  It
 * talks only to the assertion API under /mock/ (doc/mock-api.md).
 *
 * Model: every delivery's summary (GET /mock/deliveries?view=summary, then
 * /mock/events for what arrives) is kept in memory; groups, counts and
 * filters are computed from it here.  Full deliveries (payload, headers,
 * body, answer) are fetched when a row or the detail pane needs them.  The
 * view (group, filters, open delivery) lives in the URL's fragment, so a
 * reload or a shared link shows the same thing.  "Read" is this browser's
 * own memory (localStorage): notimock has no user who reads.
 *
 * Everything a sender wrote is untrusted: it reaches the page through
 * textContent and createElement only, never as HTML, and links are made
 * only for http(s) URLs.  The server's Content-Security-Policy forbids
 * inline script on top of that.
 *
 * The modules, each importing only those above it:
 *	js/config.js	constants
 *	js/dom.js	element, link, time and clipboard helpers
 *	js/state.js	the state, groups, read marks, the view in the URL,
 *			the redraw request
 *	js/markdown.js, js/jsonview.js	descriptions and bodies, shown
 *	js/api.js	/mock/ requests, the admin token, the event stream
 *	js/load.js	the state filled from /mock/, live
 *	js/view.js	the view and the filters
 *	js/parts.js	badges, titles and chips of rows and the detail pane
 *	js/actions.js	what the user does
 *	js/list.js, js/detail.js	the sidebar and list, the detail pane
 *	js/keys.js	the keyboard
 *	app.js		render(), the wiring of the page, the start
 */
import { G_ALL, ROWS, TOKEN_KEY } from './js/config.js';
import { $, relTime } from './js/dom.js';
import { S, decodeView, loadRead, scheduleRender,
    setRenderer } from './js/state.js';
import { loadAll, startLive } from './js/load.js';
import { applyView, derive, filtersActive, setView,
    syncTopicOptions } from './js/view.js';
import { clearFilters, closeDelivery, copyCurl, doReset, markAllRead,
    moveCursor, openReset, toggleRead } from './js/actions.js';
import { renderList, renderSidebar } from './js/list.js';
import { renderDetail } from './js/detail.js';
import { onKey } from './js/keys.js';

function render() {
	const x = derive();
	S.lastTopics = x.topics;
	S.lastList = x.list;
	syncTopicOptions(x.topics);
	$('f-clear').hidden = !filtersActive(S.view);
	document.title = (x.unreadAll > 0 ? '(' + x.unreadAll + ') ' : '') +
	    'notimock inbox';
	renderSidebar(x);
	renderList(x);
	renderDetail();
}

function tick() {
	const now = Date.now();
	for (const t of document.querySelectorAll('time.rel[data-ms]'))
		t.textContent = relTime(Number(t.dataset.ms), now);
}

function wire() {
	window.addEventListener('hashchange', () =>
	    applyView(decodeView(location.hash)));
	window.addEventListener('popstate', () =>
	    applyView(decodeView(location.hash)));
	document.addEventListener('keydown', onKey);

	$('f-q').addEventListener('input', (ev) =>
	    setView({ q: ev.target.value, d: 0 }, false));
	$('f-severity').addEventListener('change', (ev) =>
	    setView({ severity: ev.target.value }, true));
	$('f-topic').addEventListener('change', (ev) =>
	    setView({ topic: ev.target.value }, true));
	$('f-status').addEventListener('change', (ev) =>
	    setView({ status: ev.target.value }, true));
	$('f-clear').addEventListener('click', clearFilters);
	$('entity-filter').addEventListener('input', scheduleRender);
	$('brand').addEventListener('click', (ev) => {
		ev.preventDefault();
		setView({ g: G_ALL, d: 0, severity: '', topic: '', status: '',
		    q: '' }, true);
	});
	$('more').addEventListener('click', () => {
		S.shown += ROWS;
		scheduleRender();
	});
	$('mark-all').addEventListener('click', markAllRead);
	$('reset').addEventListener('click', openReset);
	$('reset-dialog').addEventListener('close', () => {
		if ($('reset-dialog').returnValue === 'confirm')
			doReset();
	});
	$('help').addEventListener('click', () => $('help-dialog').showModal());
	$('detail-close').addEventListener('click', closeDelivery);
	$('detail-prev').addEventListener('click', () => moveCursor(-1));
	$('detail-next').addEventListener('click', () => moveCursor(1));
	$('detail-read').addEventListener('click', () =>
	    toggleRead(S.view.d));
	$('detail-curl').addEventListener('click', copyCurl);
	$('list').addEventListener('focusin', (ev) => {
		const li = ev.target.closest('li.row');
		if (li) {
			S.focus = Number(li.dataset.seq);
			for (const [seq, r] of S.rows)
				r.el.tabIndex = seq === S.focus ? 0 : -1;
		}
	});
	setInterval(tick, 15000);
}

function start() {
	loadRead();
	try {
		S.token = sessionStorage.getItem(TOKEN_KEY);
	} catch (e) {
		S.token = null;
	}
	wire();
	const v = decodeView(location.hash);
	S.view = Object.assign({}, v, { q: '' });
	applyView(v);
	setRenderer(render);
	loadAll().then(startLive);
}

if (document.readyState === 'loading')
	document.addEventListener('DOMContentLoaded', start);
else
	start();
