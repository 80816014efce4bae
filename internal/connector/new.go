package connector

import (
	"fmt"
	"net/http"
	"net/url"
)

// New builds the connector of a system. The base URL must be https://; credentials are the files
// of the system's mounted Secret (ReadCredentials), and a missing one is named in the error:
//
//	cerbo        username, api_key
//	quickbooks   client_id, client_secret, refresh_token, realm_id; optional token_url
//	zoho         client_id, client_secret, refresh_token; optional token_url (a region's accounts server)
//	gohighlevel  client_id, client_secret, refresh_token, location_id; optional token_url
//	webhook      signing_secret
//
// No request is sent here: a connector talks to its system only when called.
func New(system, baseURL string, creds Credentials, opts Options) (Connector, error) {
	build, ok := constructors[system]
	if !ok {
		return nil, fmt.Errorf("connector: unknown system %q", system)
	}
	base, err := parseBaseURL(system, baseURL)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	httpClient, err := newHTTPClient(opts)
	if err != nil {
		return nil, err
	}
	// A webhook is dialed only as a destination, and a webhook source's URL is no host the runtime
	// may dial: its transport refuses any request to a host outside the list, which is empty then.
	if system != SystemWebhook {
		if err := checkAllowedHost(httpClient, base); err != nil {
			return nil, fmt.Errorf("connector: %s: %w", system, errorWithoutPrefix(err))
		}
	}
	return build(base, creds, httpClient, opts)
}

type constructor func(base *url.URL, creds Credentials, httpClient *http.Client, o Options) (Connector, error)

var constructors = map[string]constructor{
	SystemCerbo:       adapt(newCerbo),
	SystemQuickBooks:  adapt(newQuickBooks),
	SystemZoho:        adapt(newZoho),
	SystemGoHighLevel: adapt(newGoHighLevel),
	SystemWebhook:     adapt(newWebhook),
}

// adapt turns an adapter's typed constructor into a constructor; a nil *T must not become a
// non-nil Connector.
func adapt[T Connector](build func(*url.URL, Credentials, *http.Client, Options) (T, error)) constructor {
	return func(base *url.URL, creds Credentials, httpClient *http.Client, o Options) (Connector, error) {
		c, err := build(base, creds, httpClient, o)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}
