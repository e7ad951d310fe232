/*
 * view.js: the view (group, filters, open delivery) applied to the page,
 * and the filters over the summaries: derive() computes what the sidebar
 * and the list show, in one pass.
 */
import { ROWS } from './config.js';
import { $, h } from './dom.js';
import { S, encodeView, isRead, scheduleRender } from './state.js';
import { queueQuery } from './load.js';

export function setView(patch, push) {
	const v = Object.assign({}, S.view, patch);
	const hash = encodeView(v);
	if (push)
		history.pushState(null, '', hash);
	else
		history.replaceState(null, '', hash);
	applyView(v);
}

export function applyView(v) {
	const qChanged = v.q !== S.view.q;
	if (v.g !== S.view.g)
		S.shown = ROWS;
	S.view = v;
	/* Not while someone types in it: that would eat their spaces. */
	if (document.activeElement !== $('f-q'))
		$('f-q').value = v.q;
	$('f-severity').value = v.severity;
	$('f-status').value = v.status;
	syncTopicOptions();
	if (qChanged)
		queueQuery(0);
	scheduleRender();
}

function passes(d, v) {
	if (v.severity && d.severity !== v.severity)
		return false;
	if (v.topic && d.topic !== v.topic)
		return false;
	if (v.status === 'accepted' && !d.accepted)
		return false;
	if (v.status === 'rejected' && d.accepted)
		return false;
	if (v.q.trim()) {
		if (S.qSeqs === null || S.qFor !== v.q.trim())
			return true;	/* not known yet: keep showing */
		if (!S.qSeqs.has(d.seq))
			return false;
	}
	return true;
}

export function filtersActive(v) {
	return !!(v.severity || v.topic || v.status || v.q.trim());
}

/* Everything the sidebar and the list need, in one pass. */
export function derive() {
	const v = S.view;
	const groups = new Map();
	const topics = new Set();
	const sorted = Array.from(S.summaries.values())
	    .sort((a, b) => b.seq - a.seq);
	let unreadAll = 0;
	const list = [];
	for (const d of sorted) {
		if (d.topic)
			topics.add(d.topic);
		const ok = passes(d, v);
		const unread = !isRead(d);
		if (unread)
			unreadAll++;
		for (const g of d.groups) {
			let e = groups.get(g);
			if (!e) {
				e = { id: g, total: 0, unread: 0, last: d.seq,
				    all: 0, sev: {} };
				groups.set(g, e);
			}
			e.all++;
			if (!ok)
				continue;
			e.total++;
			if (unread)
				e.unread++;
			if (d.severity)
				e.sev[d.severity] = (e.sev[d.severity] || 0) + 1;
		}
		if (ok && d.groups.includes(v.g))
			list.push(d);
	}
	return { groups, topics, list, unreadAll };
}

export function syncTopicOptions(topics) {
	const sel = $('f-topic');
	const want = S.view.topic;
	const names = Array.from(topics || S.lastTopics || []).sort();
	if (want && !names.includes(want))
		names.push(want);
	const key = names.join('\u0000');
	if (sel.dataset.key !== key) {
		sel.replaceChildren(h('option', { value: '' }, 'Any topic'),
		    names.map((t) => h('option', { value: t }, t)));
		sel.dataset.key = key;
	}
	sel.value = want;
}
