// Package fraud is otpd's conversion-rate guard against SMS pumping
// (artificially inflated traffic): an attacker makes a service send codes
// to number ranges whose termination fees it shares, and never enters a
// code. What gives it away is conversion: of the verifications started
// for such a range, almost none are approved.
//
// # Counting
//
// Every start and every approval of a verification to a phone number is
// counted twice — for its number prefix (the number without its last four
// digits, otpd.Destination.Prefix) and for its country — per service, in
// buckets of creation time (Config.Bucket, a minute by default). An
// approval is credited to the bucket of the verification's creation, so
// a bucket's conversion is the share of its verifications that were
// approved, however late. Counting costs the request path a map update
// under a mutex: the Guard adds its counts to the store in one batch
// about once a second (otpd.Store.AddConversions), where the counts of
// every node sharing a PostgreSQL store add up.
//
// # Judging
//
// A pending verification is not a failure yet. So the guard judges only
// matured buckets: those that ended at least Config.Maturity (10 minutes)
// ago, within a look-back of Config.Window (an hour) from now. Summed per
// service and key, a key with at least Config.MinVolume (50) starts whose
// approved share is below Config.MinConversion (20%) is blocked. A burst
// of legitimate starts that are all checked within a minute is counted as
// approved before its bucket matures, so it never trips the guard; a
// pumping attack trips it once its first buckets mature, so how many
// starts get through before the block is bounded by the attack's rate
// times (Bucket + Maturity + SweepInterval), plus MinVolume.
//
// Maturity must be longer than the time people take to enter a code.
// A service whose codes live for hours (delivery hand-over codes, up to
// three days) and are entered late would look like pumping to the guard:
// put its legitimate ranges on its SafeList, or raise Maturity.
//
// Only buckets that begin at or after the end of a key's last block
// count (the store applies the cut-off), so a block an admin lifted, or
// one that expired, is not made again from the traffic that made it.
//
// # Blocks
//
// A block lasts Config.Durations[level]: 15 minutes, then 1, 6 and 24
// hours, where level is how many blocks the key had in the last
// Config.EscalationWindow (7 days); past the end of the list the last
// duration repeats. A key has at most one active block: every node sweeps,
// and the store makes one of concurrent CreateBlocks win (SQLite
// serializes its writers; PostgreSQL takes an advisory lock on the key),
// so nodes judging the same counts at once make one block, one event and
// one count of otpd_fraud_blocks_total.
//
// A block's creation and lifting write fraud.block_created and
// fraud.block_lifted events in the same transaction; they go out through
// the webhook machinery like a verification's, keyed by the block's id so
// that they wait for nothing else.
//
// # Screening
//
// Screen is on the request path and reads no store: each Guard keeps the
// active blocks of every service in memory, refreshed from the store every
// Config.RefreshInterval (2 seconds), and changed at once when this node
// makes or lifts a block. A block made on another node takes effect here
// within a refresh. Numbers on a service's SafeList (exact numbers or
// prefixes) are never blocked; they are counted like any other.
package fraud
