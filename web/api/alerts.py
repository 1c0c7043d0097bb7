"""The shop's alerts (core/reports/alerts.py):

- ``GET /api/alerts``: the open ones, one per code and campaign, newest first, with what to do;
- ``POST /api/alerts/<id>/dismiss``: resolve it (204); another shop's alert is 404.
"""

from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import NotFound

from core.reports.alerts import dismiss, open_alerts
from web.api import blueprint
from web.database import db
from web.tenancy import current_shop


@blueprint.get("/alerts")
def list_alerts():
    return jsonify(alerts=[a.as_json() for a in open_alerts(db(), current_shop().id)])


@blueprint.post("/alerts/<id:alert_id>/dismiss")
def dismiss_alert(alert_id: int):
    if not dismiss(db(), current_shop().id, alert_id):
        raise NotFound("This shop has no such alert.")
    db().commit()
    return "", 204
