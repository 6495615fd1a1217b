"""Steps shared by several browser tests."""

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect


def open_picker(page, message):
    bubble = page.locator(f'li.message[data-message-id="{message.pk}"]')
    # The message's buttons show on hover. A live update (the last reaction arriving)
    # may render the bubble again under a pointer that has not moved, which the
    # browser does not count as a new hover: move away and hover again until they show.
    for _attempt in range(5):
        page.mouse.move(0, 0)
        bubble.hover()
        try:
            bubble.locator('[data-action="react"]').click(timeout=5000)
            break
        except PlaywrightTimeoutError:
            continue
    else:
        raise AssertionError(f"the React button of message {message.pk} never showed")
    picker = page.locator(".composer-react-picker")
    expect(picker).to_be_visible()
    return picker
