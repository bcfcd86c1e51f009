package workflows

import (
	"slices"

	"go.temporal.io/sdk/workflow"
)

// inbox queues validated messages for a workflow's main loop, which carries them
// out in order; an Update's answer waits until the loop has done its message, so
// the API answers with the result. Every process takes its decisions through one.
//
// The message being carried out stays the inbox's (current) until done: its
// activity may take a while, and a validator that looked only at the queue would
// let a second, contradicting decision through in that window.
type inbox struct {
	msgs              []message
	current           *message // popped and being carried out
	received, applied int
	refused           map[int]error // messages the loop could not carry out, for their Update's answer
}

type message struct {
	n       int
	name    string
	payload any
	span    any // the trace span of the Update that brought it (TraceSpanKey), if traced
}

// traced is ctx carrying the message's trace span: the activities that carry out
// a decision run in the decision request's trace, not in the workflow start's.
func (m message) traced(ctx workflow.Context) workflow.Context {
	if m.span == nil {
		return ctx
	}
	return workflow.WithValue(ctx, TraceSpanKey, m.span)
}

type traceSpanKey struct{}

// TraceSpanKey is where the Temporal tracing interceptor keeps a workflow
// context's span (its TracerOptions.SpanContextKey): the inbox reads an Update
// handler's span there and gives it to the activities that carry the Update out.
var TraceSpanKey any = traceSpanKey{}

func newInbox() *inbox { return &inbox{refused: map[int]error{}} }

func (ib *inbox) add(name string, payload any) int { return ib.addTraced(name, payload, nil) }

func (ib *inbox) addTraced(name string, payload, span any) int {
	ib.received++
	ib.msgs = append(ib.msgs, message{n: ib.received, name: name, payload: payload, span: span})
	return ib.received
}

// has reports whether a message with one of the names waits in the queue or is
// being carried out. Validators ask this.
func (ib *inbox) has(names ...string) bool {
	if ib.current != nil && slices.Contains(names, ib.current.name) {
		return true
	}
	for _, m := range ib.msgs {
		for _, n := range names {
			if m.name == n {
				return true
			}
		}
	}
	return false
}

// pending reports whether a message waits in the queue (the main loop's wake-up).
func (ib *inbox) pending() bool { return len(ib.msgs) > 0 }

// busy reports whether any message waits or is being carried out.
func (ib *inbox) busy() bool { return ib.current != nil || len(ib.msgs) > 0 }

// pop takes the next message and holds it as the one being carried out; done
// marks it carried out (refused with err, if not nil).
func (ib *inbox) pop() message {
	m := ib.msgs[0]
	ib.msgs = ib.msgs[1:]
	ib.current = &m
	return m
}

func (ib *inbox) done(m message, err error) {
	if err != nil {
		ib.refused[m.n] = err
	}
	ib.applied = m.n
	if ib.current != nil && ib.current.n == m.n {
		ib.current = nil
	}
}

// close refuses every message still queued when the process ends.
func (ib *inbox) close(err error) {
	for _, m := range ib.msgs {
		ib.refused[m.n] = err
	}
	ib.msgs, ib.applied, ib.current = nil, ib.received, nil
}

// serve accepts a message as an Update (validated, answered with state() once the
// main loop has carried it out) and as a Signal (validated, or logged and dropped).
func serve[T, S any](ctx workflow.Context, ib *inbox, name string, validate func(T) error, state func() S) error {
	err := workflow.SetUpdateHandlerWithOptions(ctx, name, func(ctx workflow.Context, msg T) (S, error) {
		n := ib.addTraced(name, msg, ctx.Value(TraceSpanKey))
		if err := workflow.Await(ctx, func() bool { return ib.applied >= n }); err != nil {
			return state(), err
		}
		return state(), ib.refused[n]
	}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, msg T) error { return validate(msg) }})
	if err != nil {
		return err
	}
	listen(ctx, name, validate, func(msg T) { ib.add(name, msg) })
	return nil
}
