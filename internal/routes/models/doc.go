// Package models serves the models and model-provider credentials routes of API.md §4.12 and GET /api/me/models.
package models
