// Command fakepay is a fake payments API for tests and demos (see package server):
//
//	fakepay [-addr 127.0.0.1:8090] [-callback http://localhost:8080/v1/webhooks/payments] [-secret ...]
//
// POST /v1/transfers (Idempotency-Key required), GET /v1/transfers/{id},
// POST /_control {"fail":..,"delay":..,"duplicate_callbacks":..}, GET /_transfers.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"

	"github.com/partnerops/partnerops/cmd/fakepay/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	callback := flag.String("callback", "http://localhost:8080/v1/webhooks/payments", "where confirmations are sent")
	secret := flag.String("secret", os.Getenv("PAYMENTS_WEBHOOK_SECRET"), "signs the confirmations")
	flag.Parse()
	s := server.New()
	s.CallbackURL, s.Secret = *callback, []byte(*secret)
	log.Printf("fake payments API on http://%s, confirmations to %s", *addr, *callback)
	log.Fatal(http.ListenAndServe(*addr, s))
}
