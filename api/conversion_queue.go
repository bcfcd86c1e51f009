package api

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
)

// conversionQueue records postbacks in batches (activities.Batch):
// a few writers each take what is waiting, up to maxBatch, and record it in one
// transaction with a statement or two. Alone, a postback is a batch of one and
// waits for nothing; under load the batches grow by themselves, and the
// database does a handful of statements per batch instead of five per postback.
// A postback is answered only after its batch has committed.
type conversionQueue struct {
	store    *db.Store
	ingest   *activities.Ingest
	writers  int
	maxBatch int
	timeout  time.Duration

	start sync.Once
	jobs  chan conversionJob
	sizes prometheus.Histogram // postbacks per batch
}

type conversionJob struct {
	req  activities.Conversion
	done chan activities.Recorded // buffered: a writer never waits for a handler
}

func newConversionQueue(store *db.Store, ingest *activities.Ingest, writers, maxBatch int, timeout time.Duration, reg prometheus.Registerer) *conversionQueue {
	cq := &conversionQueue{store: store, ingest: ingest, writers: max(1, writers), maxBatch: max(1, maxBatch), timeout: timeout,
		jobs: make(chan conversionJob, max(1, writers)*max(1, maxBatch)),
		sizes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "partnerops_conversion_batch_size",
			Help: "Conversion postbacks recorded per batch (one transaction).", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128}})}
	reg.MustRegister(cq.sizes)
	return cq
}

// record hands req to a writer and waits for its batch. Deferred answers (and a
// failed batch) are the caller's to record alone.
func (cq *conversionQueue) record(ctx context.Context, req activities.Conversion) (activities.Recorded, error) {
	cq.start.Do(func() {
		for range cq.writers {
			go cq.write()
		}
	})
	job := conversionJob{req: req, done: make(chan activities.Recorded, 1)}
	select {
	case cq.jobs <- job:
	case <-ctx.Done():
		return activities.Recorded{}, ctx.Err()
	}
	// Once taken, the job is recorded even if the caller goes away: a postback
	// retried later finds it and gets the same answer.
	select {
	case r := <-job.done:
		return r, nil
	case <-ctx.Done():
		return activities.Recorded{}, ctx.Err()
	}
}

// write runs for the life of the process: the queue is shared by every request
// and has nothing to release but its goroutines, which wait on an empty channel.
//
// A batch is decided, then written. Postbacks that need lookups (a click id,
// an order, a customer, a coupon) are read first: those that arrive while a
// batch is written are taken as the next batch, and their lookups go in the
// same round trip, after the first's commit. Postbacks that need none (a click
// token) are decided at once (Speculate) and written with the batch in flight.
// Under load a writer so makes one round trip a batch; alone, a postback waits
// for nothing else.
func (cq *conversionQueue) write() {
	var ready, next []conversionJob // the batch to write, the postbacks waiting meanwhile
	var batch *activities.Batch
	for {
		if batch == nil {
			ready = cq.take(ready[:0], <-cq.jobs)
			ctx, cancel := context.WithTimeout(context.Background(), cq.timeout)
			if batch = cq.ingest.Speculate(ctx, cq.store, requests(ready)); batch == nil {
				batch = cq.ingest.Read(ctx, cq.store, requests(ready))
				cq.ingest.Decide(ctx, cq.store, batch)
			}
			cancel()
		}
		ctx, cancel := context.WithTimeout(context.Background(), cq.timeout)
		var toRead []activities.Conversion
		if next = cq.waiting(next[:0]); len(next) > 0 {
			if b := cq.ingest.Speculate(ctx, cq.store, requests(next)); b != nil && batch.Err == nil {
				batch.Merge(b)
				ready, next = append(ready, next...), next[:0]
			} else {
				toRead = requests(next)
			}
		}
		read := cq.ingest.Write(ctx, cq.store, batch, toRead)
		cq.sizes.Observe(float64(len(ready)))
		for i, j := range ready {
			j.done <- batch.Out[i]
		}
		if read != nil {
			cq.ingest.Decide(ctx, cq.store, read)
		}
		cancel()
		batch, ready, next = read, next, ready
	}
}

// take appends first and what else is waiting, up to a batch.
func (cq *conversionQueue) take(batch []conversionJob, first conversionJob) []conversionJob {
	return cq.waiting(append(batch, first))
}

// waiting appends what is waiting without waiting for more, up to a batch.
func (cq *conversionQueue) waiting(batch []conversionJob) []conversionJob {
	for len(batch) < cq.maxBatch {
		select {
		case j := <-cq.jobs:
			batch = append(batch, j)
		default:
			return batch
		}
	}
	return batch
}

func requests(jobs []conversionJob) []activities.Conversion {
	reqs := make([]activities.Conversion, len(jobs))
	for i, j := range jobs {
		reqs[i] = j.req
	}
	return reqs
}
