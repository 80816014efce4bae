package connector

// The systems an Integration names, as in api/v1alpha1 (System).
const (
	SystemCerbo       = "cerbo"
	SystemQuickBooks  = "quickbooks"
	SystemZoho        = "zoho"
	SystemGoHighLevel = "gohighlevel"
	SystemWebhook     = "webhook"
)
