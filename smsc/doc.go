// Package smsc is a simulated SMSC: an SMPP 3.4 server for development and
// tests, behind `otpd smsc` and the in-process SMSC of `otpd serve --dev`.
// It accepts binds, acknowledges submit_sm and data_sm, reassembles
// concatenated messages, keeps what arrived in memory (see
// [Server.Messages], [Server.WaitFor] and the HTTP [Server.Handler]), and
// sends delivery receipts after a delay. [Faults] make it misbehave on
// purpose, deterministically, so that otpd's retry and failover paths can
// be tested.
//
// # Binds
//
// Any number of ESMEs may bind at once, as transmitter, receiver or
// transceiver, with the same system_id or different ones: several otpd
// nodes share one simulated SMSC as they would share a real one. When
// [Config] sets SystemID or Password a bind must match them (otherwise it
// gets ESME_RINVSYSID or ESME_RINVPASWD and the connection is closed);
// unset, any credentials are accepted.
//
// # Message ids
//
// Every accepted submit gets its own id: a 64-bit counter written in
// lowercase hexadecimal, started from the server's start time in
// microseconds, so ids are unique within a run and do not repeat after a
// restart (an ESME may still hold ids from the previous run). Each part of a
// concatenated message is a submit of its own and has its own id.
//
// # Receipts
//
// A submit whose registered_delivery asks for an SMSC receipt
// (ReceiptOnFinal, or ReceiptOnFailure for an undeliverable destination) is
// answered, after [Config.DLRDelay], with a deliver_sm built by
// smpp.Receipt.DeliverSM: stat DELIVRD (UNDELIV for
// [Faults.UndeliverablePrefixes]), the submit's id as receipted_message_id
// and in the text. A concatenated message gets one receipt per part.
//
// Receipts go to a receiver or transceiver bind of the same system_id as
// the submit: the submitting connection itself when it can receive, any
// other such bind otherwise (round-robin). That is what a real SMSC does
// and what a cluster has to cope with: a receipt may arrive on another
// node's bind than the one that submitted. [Faults.ReceiptsToOtherBind]
// forces that case. When a bind does not answer the deliver_sm within
// [Config.ReceiptTimeout], answers it with an error (ESME_RX_T_APPN: "busy,
// try later"), or goes away, the receipt is offered to the next bind at
// once; when every bind has failed it, it is offered to them again after a
// backoff that starts at [Config.ReceiptRetry] and doubles each round, with
// jitter, up to [Config.MaxReceiptRetry] — sooner to a bind that appears
// meanwhile. With no bind at all it waits for one. It is given up after
// [Config.ReceiptAttempts] failed deliver_sm or [Config.ReceiptExpiry],
// whichever comes first; [Stats] counts refusals, timeouts, retries and
// receipts given up.
//
// # Faults
//
// Throttling and queue-full refusals pick submits by a counter, not at
// random ([Rate]), so a test knows which submit is refused. A submit whose
// answer is withheld or lost with its connection ([Faults.WithholdResponses],
// [Faults.DropAfter]) is still accepted and stored, and its receipt still
// sent: the SMSC took the message, only the answer never came. That is the
// case that makes an ESME resubmit, and [Stats] counts the resulting
// duplicates.
//
// # Privacy
//
// The texts hold one-time codes. They are kept in memory and shown over
// HTTP by design — that is the simulator's purpose — but never logged:
// logs name destinations masked, and message ids.
package smsc
