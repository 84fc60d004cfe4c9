def test_health_answers_ok(client):
    assert client.get("/health").json == {"status": "ok"}


def test_first_text_opens_case_and_replies_with_tracking_number(
    jurisdiction, send_sms, twilio_http
):
    response = send_sms("Pothole at 12 Main St")
    assert response.status_code == 200
    assert "tracking number" in twilio_http.messages[0]["Body"]
