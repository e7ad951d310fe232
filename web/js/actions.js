/*
 * actions.js: what the user does: open and move between deliveries and
 * groups, clear the filters, mark read, reset, copy as curl.
 */
import { G_ALL, G_REJECTED, ROWS } from './config.js';
import { $, copyText, plural, shellQuote, toast } from './dom.js';
import { S, isRead, renderNow, setRead } from './state.js';
import { api, qs } from './api.js';
import { loadAll } from './load.js';
import { setView } from './view.js';

export function openDelivery(seq) {
	S.focus = seq;
	setView({ d: seq }, S.view.d === 0);
}

export function closeDelivery() {
	if (!S.view.d)
		return;
	const seq = S.view.d;
	setView({ d: 0 }, false);
	requestAnimationFrame(() => {
		const r = S.rows.get(seq);
		if (r)
			r.el.focus();
	});
}

export function moveCursor(delta) {
	const list = S.lastList || [];
	if (list.length === 0)
		return;
	const from = S.view.d || S.focus;
	let idx = list.findIndex((d) => d.seq === from);
	idx = idx < 0 ? 0 : Math.max(0, Math.min(list.length - 1, idx + delta));
	if (idx >= S.shown) {
		S.shown = idx + ROWS;
		renderNow();
	}
	const seq = list[idx].seq;
	S.focus = seq;
	if (S.view.d)
		setView({ d: seq }, false);
	else
		renderNow();
	const r = S.rows.get(seq);
	if (r) {
		r.el.focus();
		r.el.scrollIntoView({ block: 'nearest' });
	}
}

export function moveGroup(delta) {
	const links = Array.from(document.querySelectorAll('#sidebar a.group'));
	if (links.length === 0)
		return;
	let idx = links.findIndex((a) => a.dataset.group === S.view.g);
	idx = Math.max(0, Math.min(links.length - 1, idx + delta));
	setView({ g: links[idx].dataset.group, d: 0 }, true);
	requestAnimationFrame(() => {
		const a = document.querySelector('#sidebar a.group.current');
		if (a)
			a.scrollIntoView({ block: 'nearest' });
	});
}

export function clearFilters() {
	$('f-q').value = '';
	setView({ severity: '', topic: '', status: '', q: '' }, true);
}

export function toggleRead(seq) {
	const d = S.summaries.get(seq);
	if (d)
		setRead([seq], !isRead(d));
}

export function markAllRead() {
	const seqs = (S.lastList || []).map((d) => d.seq);
	setRead(seqs, true);
	toast(seqs.length ? 'Marked ' + plural(seqs.length, 'delivery',
	    'deliveries') + ' read' : 'Nothing to mark');
}

/* The filters of the view as /mock/ query parameters, or null when the
 * view cannot be expressed there (broadcasts, other calls). */
function viewFilters() {
	const v = S.view, f = {};
	if (v.g === G_REJECTED)
		f.status = 'rejected';
	else if (v.g.startsWith('e:'))
		f.entity = v.g.slice(2);
	else if (v.g !== G_ALL)
		return null;
	if (v.status) {
		if (f.status && f.status !== v.status)
			return null;
		f.status = v.status;
	}
	if (v.severity)
		f.severity = v.severity;
	if (v.topic)
		f.topic = v.topic;
	if (v.q)
		f.q = v.q;
	return f;
}

export function openReset() {
	const f = viewFilters();
	const scoped = f !== null && Object.keys(f).length > 0;
	const n = (S.lastList || []).length;
	$('reset-scope').checked = false;
	$('reset-scope').disabled = !scoped;
	$('reset-scope-label').textContent = scoped ? 'Only the ' +
	    plural(n, 'delivery', 'deliveries') + ' this view shows' :
	    'Only what this view shows (not possible for this view)';
	$('reset-keep').checked = false;
	const update = () => {
		const only = $('reset-scope').checked;
		$('reset-text').textContent = only ? 'This deletes the ' +
		    plural(n, 'delivery', 'deliveries') + ' of this view.' :
		    'This deletes all ' + plural(S.summaries.size, 'delivery',
		    'deliveries') + ' notimock has recorded.';
		$('reset-confirm').textContent = only ? 'Delete ' + n :
		    'Delete everything';
	};
	$('reset-scope').onchange = update;
	update();
	const dlg = $('reset-dialog');
	dlg.returnValue = '';
	dlg.showModal();
	$('reset-cancel').focus();
}

export async function doReset() {
	const params = {};
	if ($('reset-scope').checked)
		Object.assign(params, viewFilters() || {});
	if ($('reset-keep').checked)
		params.notifications = 'keep';
	try {
		const r = await api('mock/deliveries' + qs(params),
		    { method: 'DELETE' });
		toast('Deleted ' + plural(r.deleted, 'delivery', 'deliveries') +
		    (r.notificationsDeleted ? ' and ' +
		    plural(r.notificationsDeleted, 'notification') : ''));
		if (S.view.d)
			setView({ d: 0 }, false);
		await loadAll();
	} catch (e) {
		toast('Reset failed: ' + e.message);
	}
}

export function copyCurl() {
	const d = S.full.get(S.view.d);
	if (!d)
		return;
	let cmd = 'curl -sS -X ' + d.method + ' ' +
	    shellQuote(location.origin + d.path);
	for (const [name, value] of d.headers || []) {
		const n = String(name).toLowerCase();
		if (n === 'authorization')
			cmd += ' \\\n  -H "Authorization: Bearer $TOKEN"';
		else if (n === 'content-type' || n === 'user-agent' ||
		    n === 'accept')
			cmd += ' \\\n  -H ' + shellQuote(name + ': ' + value);
	}
	if (typeof d.body === 'string' && d.body !== '')
		cmd += ' \\\n  --data-binary ' + shellQuote(d.body);
	copyText(cmd);
}
