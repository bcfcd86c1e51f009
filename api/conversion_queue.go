package api

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
)

// conversionQueue records postbacks in batches (activities.Ingest.RecordBatch):
// a few writers each take what is waiting, up to maxBatch, and record it in one
// transaction with one statement per table. Alone, a postback is a batch of
// one and waits for nothing; under load the batches grow by themselves, and the
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
func (cq *conversionQueue) write() {
	batch := make([]conversionJob, 0, cq.maxBatch)
	reqs := make([]activities.Conversion, 0, cq.maxBatch)
	for job := range cq.jobs {
		batch, reqs = append(batch[:0], job), append(reqs[:0], job.req)
	more:
		for len(batch) < cq.maxBatch {
			select {
			case j := <-cq.jobs:
				batch, reqs = append(batch, j), append(reqs, j.req)
			default:
				break more
			}
		}
		cq.sizes.Observe(float64(len(batch)))
		out := cq.recordBatch(reqs)
		for i, j := range batch {
			j.done <- out[i]
		}
	}
}

func (cq *conversionQueue) recordBatch(reqs []activities.Conversion) []activities.Recorded {
	ctx, cancel := context.WithTimeout(context.Background(), cq.timeout)
	defer cancel()
	out, err := cq.ingest.RecordBatch(ctx, cq.store, reqs)
	if err != nil {
		// Nothing of the batch was written (a concurrent postback with one of its
		// external ids, a lost connection): every postback of it is recorded alone,
		// where its own error is its own.
		out = make([]activities.Recorded, len(reqs))
		for i := range out {
			out[i].Deferred = true
		}
	}
	return out
}
