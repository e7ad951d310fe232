/*
 * parts.js: what the list and the detail pane both show: group labels,
 * severity badges, titles, refusals, diagnosis and attempt chips.
 */
import { FIXED_GROUPS, JSON_MAX, SEVERITIES } from './config.js';
import { h } from './dom.js';

export function groupLabel(id) {
	const f = FIXED_GROUPS.find((g) => g.id === id);
	if (f)
		return f.label;
	return id.startsWith('e:') ? id.slice(2) : id;
}

export function kindClass(kind) {
	return ['component', 'user', 'group', 'system', 'api', 'resource',
	    'domain', 'template', 'location'].includes(kind) ? kind : 'other';
}

export function sevBadge(sev) {
	if (!sev)
		return null;
	return h('span', { class: 'badge sev-' + (SEVERITIES.includes(sev) ?
	    sev : 'other'), title: 'severity: ' + sev }, sev);
}

/* What a rejected delivery was refused for: the answer's message. */
export function refusal(full) {
	if (!full || typeof full.response !== 'string')
		return null;
	try {
		const r = JSON.parse(full.response);
		if (r && r.error && typeof r.error.message === 'string')
			return r.error.message;
	} catch (e) {
		/* Backstage's empty 404 has no body */
	}
	return full.status === 404 ? 'Not found (no such route)' : null;
}

/*
 * The title, or for a refused body that was never parsed (a wrong media
 * type, a bad token) the title it carried, or else the request line.
 */
export function titleOf(d, full) {
	if (typeof d.title === 'string' && d.title !== '')
		return { text: d.title, real: true };
	if (full && typeof full.body === 'string' && full.body.length < JSON_MAX) {
		try {
			const b = JSON.parse(full.body);
			const t = b && b.payload && b.payload.title;
			if (typeof t === 'string' && t !== '')
				return { text: t, real: true };
		} catch (e) {
			/* not JSON */
		}
	}
	const path = String(d.path || '').split('?')[0];
	return { text: d.method + ' ' + path, real: false };
}

export function diagChips(diags) {
	if (!Array.isArray(diags) || diags.length === 0)
		return null;
	return h('span', { class: 'diag-chips' }, diags.slice(0, 3).map((g) =>
	    h('span', { class: 'diag-chip level-' + levelClass(g.level),
	    title: g.message || '' }, String(g.code || g.level || '?'))),
	    diags.length > 3 ? h('span', { class: 'diag-chip more' },
	    '+' + (diags.length - 3)) : null);
}

/* Which attempt of which first delivery (Argo CD resends the same bytes
 * after a failure), and the fault rule that answered, if one did. */
export function attemptChips(d) {
	const f = d.fault && typeof d.fault === 'object' ? d.fault : null;
	return [
	    typeof d.retryOf === 'number' ? h('span', { class: 'chip retry',
	    title: 'a retry: attempt ' + d.attempt + ' of delivery #' +
	    d.retryOf }, 'attempt ' + d.attempt + ' of #' + d.retryOf) : null,
	    f ? h('span', { class: 'chip fault', title: 'answered by fault ' +
	    'rule ' + f.id + (f.answered === false ? '; the client left ' +
	    'before the answer' : '') }, 'fault ' + f.id + ' ' +
	    String(f.action || '')) : null];
}

export function levelClass(level) {
	return level === 'error' || level === 'warning' ? level : 'info';
}
