/*
 * list.js: the sidebar (groups and entities with their counts), the list
 * of deliveries (a row is rebuilt only when what it shows changed), and
 * the empty states.
 */
import { FIXED_GROUPS, G_ALL, G_REJECTED, SEND_PATH } from './config.js';
import { $, copyText, extLink, h, linkText, plural, safeHttpUrl, shellQuote,
    timeEl } from './dom.js';
import { S, canonRef, encodeView, isRead, scheduleRender,
    splitRef } from './state.js';
import { markdown } from './markdown.js';
import { getFull } from './api.js';
import { filtersActive } from './view.js';
import { attemptChips, diagChips, groupLabel, kindClass, refusal, sevBadge,
    titleOf } from './parts.js';
import { clearFilters, openDelivery } from './actions.js';

/* Two numbers beside a group: the deliveries not opened yet (a badge,
 * only when there is any) and every delivery in it.  Both say so
 * in a tooltip and to screen readers, and the sidebar has a legend. */
function countsEl(e) {
	const total = e ? e.total : 0, unread = e ? e.unread : 0;
	const tu = plural(unread, 'unread delivery', 'unread deliveries') +
	    ' (not opened yet)';
	const tt = plural(total, 'delivery', 'deliveries') + ' in all';
	return h('span', { class: 'counts' },
	    unread > 0 ? h('span', { class: 'unread-count', title: tu,
	    'aria-label': tu }, String(unread)) : null,
	    h('span', { class: 'total-count', title: tt, 'aria-label': tt },
	    String(total)));
}

function groupLink(id, label, e, extra, cls) {
	const v = Object.assign({}, S.view, { g: id, d: 0 });
	const cur = S.view.g === id;
	return h('li', null, h('a', {
		href: encodeView(v),
		class: 'group' + (cur ? ' current' : '') +
		    (e && e.total === 0 ? ' dim' : '') + (cls ? ' ' + cls : ''),
		'aria-current': cur ? 'page' : null,
		'data-group': id,
	}, extra, h('span', { class: 'group-label' }, label), countsEl(e)));
}

export function renderSidebar(x) {
	/* Rebuilt every time: keep the keyboard focus on the same group. */
	const a = document.activeElement;
	const focused = a && a.closest && a.closest('#sidebar') &&
	    a.dataset.group;
	const fixed = FIXED_GROUPS.filter((g) => g.id === G_ALL ||
	    g.id === G_REJECTED || (x.groups.get(g.id) || {}).all > 0 ||
	    S.view.g === g.id);
	$('groups').replaceChildren(...fixed.map((g) => groupLink(g.id,
	    g.label, x.groups.get(g.id), h('span', { class: 'group-icon ' +
	    'icon-' + g.id, 'aria-hidden': 'true' }, g.icon), 'fixed-' + g.id)));

	const filter = $('entity-filter').value.trim().toLowerCase();
	const ents = [];
	for (const e of x.groups.values())
		if (e.id.startsWith('e:'))
			ents.push(e);
	/* Newest activity first (what arrived last is on top). */
	ents.sort((a, b) => b.last - a.last);
	const shown = ents.filter((e) => !filter || e.id.includes(filter));
	if (S.view.g.startsWith('e:') && !x.groups.has(S.view.g))
		shown.unshift({ id: S.view.g, total: 0, unread: 0, all: 0 });
	$('entities').replaceChildren(...shown.map((e) => {
		const r = splitRef(e.id.slice(2));
		const label = h('span', { class: 'ref', title: e.id.slice(2) },
		    h('span', { class: 'ref-name' }, r.name),
		    h('span', { class: 'ref-sub' }, r.kind ? h('span', {
		    class: 'kind kind-' + kindClass(r.kind) }, r.kind) : null,
		    r.ns !== 'default' ? ' \u00b7 ' + r.ns : null));
		return groupLink(e.id, label, e, null, 'entity');
	}));
	$('entity-count').textContent = ents.length ? String(ents.length) : '';
	if (focused) {
		const again = Array.from(document.querySelectorAll(
		    '#sidebar a.group')).find((l) => l.dataset.group === focused);
		if (again)
			again.focus();
	}
	const note = $('side-note');
	if (ents.length === 0) {
		note.hidden = false;
		note.textContent = 'Entity refs appear here as notifications ' +
		    'address them.';
	} else if (shown.length === 0) {
		note.hidden = false;
		note.textContent = 'No entity matches \u201c' + filter + '\u201d.';
	} else
		note.hidden = true;
}

function rowSig(d, full) {
	return [isRead(d) ? 1 : 0, full ? 1 : 0,
	    S.view.g.startsWith('e:') ? 1 : 0].join(',');
}

function buildRow(d, full) {
	const payload = full && full.payload && typeof full.payload ===
	    'object' ? full.payload : null;
	const inEntity = S.view.g.startsWith('e:');
	const li = h('li', {
		class: 'row' + (d.accepted ? '' : ' rejected') +
		    (isRead(d) ? '' : ' unread'),
		'data-seq': d.seq,
		tabindex: '-1',
	});
	const t = titleOf(d, full);
	const title = h('span', { class: 'title' + (t.real ? '' :
	    ' untitled') }, t.text);
	const top = h('div', { class: 'row-top' },
	    h('span', { class: 'dot', title: isRead(d) ? null : 'unread' }),
	    sevBadge(d.severity),
	    d.accepted ? null : h('span', { class: 'badge status-rejected',
	    title: 'notimock answered ' + d.status }, d.status + ' rejected'),
	    title, timeEl(d.receivedMs));
	const meta = h('div', { class: 'row-meta' },
	    d.topic ? h('span', { class: 'chip topic', title: 'topic' },
	    d.topic) : null,
	    h('span', { class: 'origin', title: 'origin (token subject)' },
	    d.origin || 'unauthenticated'),
	    !inEntity && d.canon.length ? h('span', { class: 'targets' },
	    d.canon.slice(0, 3).join(', ') + (d.canon.length > 3 ?
	    ' +' + (d.canon.length - 3) : '')) : null,
	    Array.isArray(d.users) && d.users.length ? h('span', {
	    class: 'users', title: 'reached ' + d.users.join(', ') },
	    '\u2192 ' + d.users.slice(0, 3).map((u) =>
	    splitRef(canonRef(u)).name).join(', ') + (d.users.length > 3 ?
	    ' +' + (d.users.length - 3) : '')) : null,
	    attemptChips(d), diagChips(d.diagnoses),
	    h('span', { class: 'seq' }, '#' + d.seq));
	li.append(top, meta);
	if (payload && typeof payload.description === 'string' &&
	    payload.description !== '') {
		li.append(h('div', { class: 'row-desc md' },
		    markdown(payload.description)));
	} else if (!d.accepted && full) {
		const why = refusal(full);
		if (why)
			li.append(h('div', { class: 'row-desc refusal' }, why));
	} else if (!full) {
		li.append(h('div', { class: 'row-desc loading' }, '\u2026'));
	}
	if (payload && typeof payload.link === 'string' && payload.link) {
		const href = safeHttpUrl(payload.link);
		li.append(h('div', { class: 'row-link' }, href ?
		    extLink(href, linkText(href), 'link') :
		    h('span', { class: 'md-inert', title: 'not a http(s) link' },
		    payload.link)));
	}
	li.addEventListener('click', (ev) => {
		if (ev.target.closest('a'))
			return;
		openDelivery(d.seq);
	});
	return li;
}

/* Put nodes into parent in order, moving only what moved. */
function reconcile(parent, nodes) {
	let cur = parent.firstChild;
	for (const n of nodes) {
		if (n === cur) {
			cur = cur.nextSibling;
			continue;
		}
		parent.insertBefore(n, cur);
	}
	while (cur) {
		const next = cur.nextSibling;
		cur.remove();
		cur = next;
	}
}

export function renderList(x) {
	const v = S.view;
	const list = x.list;
	const g = x.groups.get(v.g);
	$('view-title').textContent = groupLabel(v.g);
	$('view-title').title = groupLabel(v.g);
	const sub = [];
	if (g && g.unread)
		sub.push(g.unread + ' unread');
	if (filtersActive(v) && g)
		sub.push(g.total + ' of ' + g.all + ' match');
	$('view-sub').textContent = sub.join(' \u00b7 ');
	$('view-count').textContent = plural(list.length, 'delivery',
	    'deliveries');

	const banner = $('banner');
	if (S.loadError) {
		banner.hidden = false;
		banner.className = 'banner error';
		banner.textContent = 'Cannot read /mock/deliveries: ' +
		    S.loadError;
	} else if (S.loadingMore) {
		banner.hidden = false;
		banner.className = 'banner';
		banner.textContent = 'Loading older deliveries\u2026 (' +
		    S.summaries.size + ' of ' + S.serverTotal + ')';
	} else if (S.serverTotal > S.summaries.size && S.loaded) {
		banner.hidden = false;
		banner.className = 'banner';
		banner.textContent = 'Showing the newest ' +
		    S.summaries.size + ' of ' + S.serverTotal +
		    ' deliveries (the assertion API has them all).';
	} else
		banner.hidden = true;

	const rows = [];
	const seen = new Set();
	for (const d of list.slice(0, S.shown)) {
		const full = S.full.get(d.seq);
		const sig = rowSig(d, full);
		let r = S.rows.get(d.seq);
		if (!r || r.sig !== sig) {
			const el = buildRow(d, full);
			if (r && r.el === document.activeElement)
				requestAnimationFrame(() => el.focus());
			if (r && r.el.parentNode)
				r.el.replaceWith(el);
			r = { el, sig };
			S.rows.set(d.seq, r);
		}
		r.el.classList.toggle('fresh', S.fresh.has(d.seq));
		r.el.classList.toggle('selected', d.seq === v.d);
		if (d.seq === v.d)
			r.el.setAttribute('aria-current', 'true');
		else
			r.el.removeAttribute('aria-current');
		if (!full && !S.pending.has(d.seq))
			getFull(d.seq).then(scheduleRender, () => {});
		rows.push(r.el);
		seen.add(d.seq);
	}
	for (const seq of S.rows.keys())
		if (!seen.has(seq))
			S.rows.delete(seq);
	reconcile($('list'), rows);

	/* The keyboard cursor: the open delivery, else the last one. */
	if (!seen.has(S.focus))
		S.focus = v.d && seen.has(v.d) ? v.d : (list[0] ? list[0].seq : 0);
	for (const [seq, r] of S.rows)
		r.el.tabIndex = seq === S.focus ? 0 : -1;

	const more = $('more');
	more.hidden = list.length <= S.shown;
	more.textContent = 'Show older (' + (list.length - S.shown) + ' more)';
	renderEmpty(list);
}

function renderEmpty(list) {
	const empty = $('empty');
	if (list.length > 0 || !S.loaded) {
		empty.hidden = true;
		return;
	}
	empty.hidden = false;
	const body = $('empty-body');
	if (S.loadingMore) {
		$('empty-title').textContent = 'Loading older deliveries\u2026';
		body.replaceChildren();
		return;
	}
	if (S.loadError) {
		$('empty-title').textContent = 'The assertion API did not answer';
		body.replaceChildren(h('p', null, S.loadError));
		return;
	}
	if (S.summaries.size === 0) {
		$('empty-title').textContent = 'No notifications yet';
		body.replaceChildren(...firstSteps());
		return;
	}
	if (filtersActive(S.view)) {
		$('empty-title').textContent = 'Nothing here matches';
		body.replaceChildren(h('p', null, 'No delivery in \u201c' +
		    groupLabel(S.view.g) + '\u201d passes the filters.'),
		    h('button', { type: 'button', class: 'primary',
		    onclick: clearFilters }, 'Clear filters'));
		return;
	}
	$('empty-title').textContent = 'Nothing in ' + groupLabel(S.view.g);
	body.replaceChildren(h('p', null, S.view.g.startsWith('e:') ?
	    'No delivery addressed this entity (a reset may have removed ' +
	    'them).' : 'No delivery belongs here yet.'),
	    h('p', null, h('a', { href: encodeView(Object.assign({}, S.view,
	    { g: G_ALL, d: 0 })) }, 'Show all deliveries')));
}

/* The empty inbox: how to send the first notification here. */
function firstSteps() {
	const origin = location.origin;
	const recipients = { type: 'entity',
	    entityRef: 'component:default/order-service' };
	const payload = {
		title: 'order-service synced',
		description: 'Application **order-service** is now running ' +
		    'revision `4f2a9c1`.\n\nSync operation succeeded.',
		severity: 'normal',
		topic: 'argocd-sync',
		link: 'https://argocd.example.com/applications/order-service',
	};
	/* Laid out to be read (and edited) in a terminal. */
	const body = '{\n  "recipients": ' + JSON.stringify(recipients) +
	    ',\n  "payload": {\n' + Object.entries(payload).map(([k, v]) =>
	    '    ' + JSON.stringify(k) + ': ' + JSON.stringify(v)).join(',\n') +
	    '\n  }\n}';
	const cmd = 'curl -sS ' + origin + SEND_PATH + ' \\\n' +
	    '  -H "Authorization: Bearer $TOKEN" \\\n' +
	    "  -H 'Content-Type: application/json' \\\n" +
	    '  -d ' + shellQuote(body);
	return [
		h('p', null, 'Send one to this notimock and it shows up here ' +
		    'at once, no reload needed. ', h('code', null, '$TOKEN'),
		    ' is one of the tokens notimock was started with (',
		    h('code', null, '--token'), ', or the ',
		    h('code', null, 'backend.auth.externalAccess'),
		    ' entries of its config).'),
		h('div', { class: 'code-block' },
		    h('pre', { class: 'cmd', id: 'first-curl' }, cmd),
		    h('button', { type: 'button', class: 'ghost copy',
		    onclick: () => copyText(cmd) }, 'Copy')),
		h('p', { class: 'muted' }, 'Argo CD: point a webhook ' +
		    'service at ', h('code', null, origin + SEND_PATH),
		    ' with the same header; rejected requests appear here ' +
		    'too, with what to change.'),
	];
}
