"""The webhook a resident waits on stays a fixed, small number of SQL statements.

The counts include delivering the acknowledgement (the send_sms fixture runs the jobs), which
costs a few statements of its own.
"""

DELIVERY = 5


def test_first_text_from_a_new_resident_costs_a_fixed_number_of_statements(
    jurisdiction, send_sms, count_queries
):
    send_sms("Pothole at 12 Main St", from_="+16135550111")  # warm caches
    with count_queries() as counter:
        send_sms("Garbage not picked up at 4 Elm St", from_="+16135550122")
    assert counter.count <= 12 + DELIVERY, counter.statements


def test_follow_up_text_costs_a_fixed_number_of_statements(jurisdiction, send_sms, count_queries):
    send_sms("Pothole at 12 Main St", from_="+16135550111")
    with count_queries() as counter:
        send_sms("It is getting bigger", from_="+16135550111")
    assert counter.count <= 8 + DELIVERY, counter.statements
