// The cluster view: on PostgreSQL, GET /cluster lists the live nodes, how many
// sessions each owns and when each last renewed; this console's node is marked.
// On a file store the route is absent (404) and so is the view: one process, or
// replicas on one volume, which the owner filter still tells apart by the fleet's owners.

/**
 * How often the view asks again. Nodes renew every LEASE_RENEW_MS (5 s by default);
 * asking as often shows each renew and costs one small query per open console.
 */
export const clusterRefreshMs = 5000;

/**
 * "now", "4 s ago", "2 min ago": how long since a node last renewed. renewedAt is the
 * database's clock and the age is taken on the page's: a skew between them shows as an
 * offset (never below "now"); liveness itself is judged by the nodes, not by this.
 */
export function ago(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 1) return 'now';
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

export class ClusterView {
  /**
   * root: the <details> that holds the view (hidden until GET /cluster answers);
   * fetchCluster(): a Response promise; onPick(holder): list that node's sessions.
   */
  constructor({ root, title, nodes, fetchCluster, onPick, onRefreshed = (_state) => {} }) {
    this.root = root;
    this.title = title;
    this.nodes = nodes;
    this.fetchCluster = fetchCluster;
    this.onPick = onPick;
    /** After each answer on a cluster (the page learns which node it is on). */
    this.onRefreshed = onRefreshed;
    /** The last answer: {self, nodes: [{holder, url, sessions, renewedAt}]}, or null before one / on a file store. */
    this.state = null;
    /** false once the service said 404: a file store does not become a cluster while it runs. */
    this.available = true;
    this.timer = null;
    /** Counts start/stop: a loop from an earlier run ends instead of scheduling. */
    this.run = 0;
    this.picked = '';
  }

  /** Asks now, then every clusterRefreshMs until stop(). */
  start() {
    this.stop();
    const run = this.run;
    const loop = async () => {
      await this.refresh();
      // Stopped (or started again) while asking: that answer schedules nothing.
      if (run !== this.run) return;
      if (this.available && this.state) this.onRefreshed(this.state);
      if (this.available) this.timer = setTimeout(loop, clusterRefreshMs);
    };
    void loop();
  }

  stop() {
    this.run += 1;
    clearTimeout(this.timer);
    this.timer = null;
  }

  async refresh() {
    try {
      const res = await this.fetchCluster();
      this.state = await res.json();
    } catch (error) {
      if (error?.status === 404) {
        this.available = false;
        this.state = null;
      }
      // Any other failure: the page's connection state says the service is away; keep the last answer.
    }
    this.render();
  }

  /** Marks the node whose sessions are listed (''), so the view and the filter agree. */
  setPicked(holder) {
    this.picked = holder;
    this.render();
  }

  render() {
    this.root.hidden = !this.available || !this.state;
    if (!this.state) return;
    const { self, nodes } = this.state;
    this.title.textContent = `Cluster · ${nodes.length} node${nodes.length === 1 ? '' : 's'}`;
    const now = Date.now();
    this.nodes.replaceChildren(
      ...[...nodes]
        .sort((a, b) => Number(b.holder === self) - Number(a.holder === self) || a.holder.localeCompare(b.holder))
        .map((node) => {
          const li = document.createElement('li');
          li.dataset.holder = node.holder;
          li.classList.toggle('self', node.holder === self);
          const button = document.createElement('button');
          button.type = 'button';
          button.setAttribute('aria-pressed', String(this.picked === node.holder));
          button.title = `${node.holder}${node.url ? ` at ${node.url}` : ''}: click to list the sessions it owns`;
          button.innerHTML = '<span class="holder"></span><span class="sessions"></span><span class="renew"></span>';
          button.querySelector('.holder').textContent = node.holder === self ? `${node.holder} (this console)` : node.holder;
          const sessions = /** @type {HTMLElement} */ (button.querySelector('.sessions'));
          sessions.textContent = `${node.sessions} session${node.sessions === 1 ? '' : 's'}`;
          sessions.dataset.count = String(node.sessions);
          const renew = /** @type {HTMLElement} */ (button.querySelector('.renew'));
          renew.textContent = `renewed ${ago(node.renewedAt, now)}`;
          renew.title = new Date(node.renewedAt).toLocaleString();
          button.addEventListener('click', () => this.onPick(this.picked === node.holder ? '' : node.holder));
          li.append(button);
          return li;
        }),
    );
  }
}
