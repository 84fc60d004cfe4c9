"""The website's chat window: the widget loader, the chat frame, its JSON API and Socket.IO
namespace, and the adapter that delivers agents' replies to the window."""
