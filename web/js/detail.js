/* detail.js: the detail pane: one delivery, all that notimock kept of it. */
import { $, exactTime, extLink, h, linkText, plural, safeHttpUrl,
    timeEl } from './dom.js';
import { S, encodeView, isRead, scheduleRender, setRead } from './state.js';
import { markdown } from './markdown.js';
import { bodyView, jsonView } from './jsonview.js';
import { getFull } from './api.js';
import { attemptChips, levelClass, refusal, sevBadge,
    titleOf } from './parts.js';

function section(title, ...children) {
	return h('section', { class: 'detail-section' },
	    h('h3', null, title), ...children);
}

function metaRow(label, value) {
	if (value === null || value === undefined || value === '')
		return null;
	return [h('dt', null, label), h('dd', null, value)];
}

function diagList(diags) {
	return h('ul', { class: 'diags' }, diags.map((g) => {
		const lvl = levelClass(g.level);
		const prev = Array.isArray(g.previous) && g.previous.length ?
		    h('p', { class: 'diag-prev' }, 'Attempt ' +
		    (g.attempt || '?') + '; earlier: ', g.previous.map((s, k) =>
		    [k ? ', ' : '', h('a', { href: encodeView(Object.assign({},
		    S.view, { d: s })) }, '#' + s)])) : null;
		return h('li', { class: 'diag level-' + lvl },
		    h('div', { class: 'diag-head' },
		    h('span', { class: 'diag-level' }, lvl),
		    h('code', { class: 'diag-code' }, String(g.code || ''))),
		    h('div', { class: 'diag-message md' },
		    markdown(String(g.message || ''))),
		    g.evidence ? h('pre', { class: 'diag-evidence' },
		    String(g.evidence)) : null,
		    g.fix ? h('div', { class: 'diag-fix' },
		    h('span', { class: 'fix-label' }, 'Fix'),
		    fixView(String(g.fix))) : null,
		    prev);
	}));
}

/*
 * A fix: prose, often ending in "...-cm:" and a YAML block to paste.  The
 * block keeps its indentation (YAML needs it).
 */
function fixView(text) {
	const lines = text.replace(/\r\n?/g, '\n').split('\n');
	const k = lines.findIndex((l, i) => i < lines.length - 1 &&
	    /:\s*$/.test(l));
	if (k < 0)
		return h('div', { class: 'md fix-text' }, markdown(text));
	const block = lines.slice(k + 1);
	const indent = Math.min(...block.filter((l) => l.trim() !== '')
	    .map((l) => l.match(/^ */)[0].length));
	return h('div', { class: 'md fix-text' },
	    markdown(lines.slice(0, k + 1).join('\n')),
	    h('pre', { class: 'fix-code' }, block.map((l) =>
	    l.slice(Number.isFinite(indent) ? indent : 0)).join('\n')));
}

function headersTable(headers) {
	if (!Array.isArray(headers) || headers.length === 0)
		return h('p', { class: 'muted' }, '(none)');
	return h('table', { class: 'headers' }, h('tbody', null,
	    headers.map((p) => h('tr', null, h('th', null, String(p[0])),
	    h('td', null, String(p[1]))))));
}

export function renderDetail() {
	const seq = S.view.d;
	const pane = $('detail');
	document.body.classList.toggle('has-detail', seq > 0);
	if (!seq) {
		pane.hidden = true;
		S.detailSeq = 0;
		S.readMarked = 0;
		return;
	}
	pane.hidden = false;
	const full = S.full.get(seq);
	const sum = S.summaries.get(seq);
	$('detail-seq').textContent = 'delivery #' + seq;
	$('detail-read').textContent = sum && isRead(sum) ? 'Mark unread' :
	    'Mark read';
	const idx = (S.lastList || []).findIndex((d) => d.seq === seq);
	$('detail-prev').disabled = idx <= 0;
	$('detail-next').disabled = idx < 0 ||
	    idx >= (S.lastList || []).length - 1;
	if (S.detailSeq === seq && pane.dataset.built === (full ? 'full' :
	    'wait'))
		return;
	/* Opening a delivery reads it (once: "Mark unread" must stick). */
	if (S.readMarked !== seq && sum) {
		S.readMarked = seq;
		setRead([seq], true);
	}
	S.detailSeq = seq;
	pane.dataset.built = full ? 'full' : 'wait';
	const body = $('detail-body');
	if (!full) {
		body.replaceChildren(h('p', { class: 'muted loading' },
		    'Loading delivery #' + seq + '\u2026'));
		const token = ++S.detailToken;
		getFull(seq).then(() => {
			if (token === S.detailToken)
				scheduleRender();
		}, (e) => {
			if (token !== S.detailToken)
				return;
			body.replaceChildren(h('p', { class: 'error-text' },
			    e.status === 404 ? 'There is no delivery #' + seq +
			    ' (any more).' : 'Cannot load delivery #' + seq +
			    ': ' + e.message));
		});
		return;
	}
	body.replaceChildren(...detailContent(full));
	body.scrollTop = 0;
}

function detailContent(d) {
	const p = d.payload && typeof d.payload === 'object' ? d.payload : {};
	const out = [];
	const href = typeof p.link === 'string' ? safeHttpUrl(p.link) : null;
	out.push(h('div', { class: 'detail-head' },
	    h('div', { class: 'detail-badges' }, sevBadge(d.severity),
	    h('span', { class: 'badge ' + (d.accepted ? 'status-accepted' :
	    'status-rejected') }, d.status + (d.accepted ? ' accepted' :
	    ' rejected')), d.topic ? h('span', { class: 'chip topic' },
	    d.topic) : null, attemptChips(d)),
	    h('h2', { class: 'detail-title' + (titleOf(d, d).real ? '' :
	    ' untitled') }, titleOf(d, d).text),
	    h('div', { class: 'detail-when' }, timeEl(d.receivedMs),
	    ' \u00b7 ', h('span', null, exactTime(d.receivedMs)))));

	/* A refusal leads with why; an accepted one with what it says. */
	const diags = Array.isArray(d.diagnoses) && d.diagnoses.length ?
	    section('Diagnoses (' + d.diagnoses.length + ')',
	    diagList(d.diagnoses)) : null;
	if (!d.accepted) {
		const why = refusal(d);
		out.push(h('div', { class: 'refused' },
		    h('strong', null, 'notimock answered ' + d.status +
		    (why ? ': ' : '')), why || ''), diags);
	}
	if (typeof p.description === 'string' && p.description !== '')
		out.push(h('div', { class: 'detail-desc md' },
		    markdown(p.description)));
	if (typeof p.link === 'string' && p.link !== '')
		out.push(h('p', { class: 'detail-link' }, href ?
		    extLink(href, 'Open ' + linkText(href), 'link-button') :
		    h('span', { class: 'md-inert', title: 'not a http(s) link: ' +
		    'not opened' }, 'link: ' + p.link)));
	if (d.accepted && diags)
		out.push(diags);

	const recips = d.recipients && typeof d.recipients === 'object' ?
	    d.recipients : null;
	out.push(h('dl', { class: 'meta' },
	    metaRow('Origin', d.origin || 'unauthenticated'),
	    metaRow('Token', d.tokenFingerprint),
	    metaRow('Recipients', recips ? String(recips.type || '?') +
	    (d.entities && d.entities.length ? ': ' + d.entities.join(', ') :
	    '') : null),
	    metaRow('Users', d.users && d.users.length ? d.users.join(', ') :
	    null),
	    metaRow('Notification ids', d.notificationIds &&
	    d.notificationIds.length ? h('span', { class: 'mono' },
	    d.notificationIds.join('\n')) : null),
	    metaRow('Scope', typeof p.scope === 'string' ? p.scope : null),
	    metaRow('Request', h('span', { class: 'mono' }, d.method + ' ' +
	    d.path)),
	    metaRow('From', d.remote),
	    metaRow('Took', typeof d.durationUs === 'number' ?
	    (d.durationUs / 1000).toFixed(2) + ' ms' : null)));

	out.push(section('Payload', d.payload !== null &&
	    d.payload !== undefined ? jsonView(d.payload) :
	    h('p', { class: 'muted' }, d.accepted ? '(none)' : 'Refused ' +
	    'before the body was read as JSON: the body as sent is under ' +
	    'Request.')));
	out.push(h('details', { class: 'detail-section', open: true },
	    h('summary', null, 'Request'),
	    h('p', { class: 'mono' }, d.method + ' ' + d.path +
	    '  \u00b7  ' + plural(d.bodyBytes || 0, 'byte')),
	    headersTable(d.headers), bodyView(d.body),
	    d.bodyBase64 ? h('p', { class: 'muted' }, 'The body is not valid ' +
	    'UTF-8; the bad bytes show as \ufffd.') : null));
	out.push(h('details', { class: 'detail-section', open: true },
	    h('summary', null, 'Answer: ' + d.status), bodyView(d.response)));
	return out;
}
