"""The IVR's own sentences in English, French and Spanish; a menu file may override any of them.

Placeholders in braces are filled in when spoken: ``{digits}`` is a tracking number read one
digit at a time, ``{minutes}`` a whole number, ``{last4}`` the last four digits of a phone.
"""

from __future__ import annotations

DEFAULT_PROMPTS: dict[str, dict[str, str]] = {
    "invalid": {
        "en": "Sorry, I did not get that.",
        "fr": "Désolé, je n'ai pas compris.",
        "es": "Lo siento, no le entendí.",
    },
    "goodbye": {
        "en": "Thank you for calling. Goodbye.",
        "fr": "Merci de votre appel. Au revoir.",
        "es": "Gracias por llamar. Adiós.",
    },
    "describe_speech": {
        "en": "Please describe the problem in a few words.",
        "fr": "Veuillez décrire le problème en quelques mots.",
        "es": "Por favor, describa el problema en pocas palabras.",
    },
    "describe_record": {
        "en": "Please describe the problem after the tone. Press pound when you are done.",
        "fr": "Veuillez décrire le problème après le signal sonore. "
        "Appuyez sur le carré pour terminer.",
        "es": "Por favor, describa el problema después del tono. Oprima numeral al terminar.",
    },
    "location": {
        "en": "Please say the address or the nearest intersection. "
        "Or key the postal or zip code, then press pound.",
        "fr": "Veuillez dire l'adresse ou l'intersection la plus proche. "
        "Ou composez le code postal, puis le carré.",
        "es": "Por favor, diga la dirección o la intersección más cercana. "
        "O marque el código postal y luego numeral.",
    },
    "case_opened": {
        "en": "Thank you. Your request is received. Your tracking number is {digits}.",
        "fr": "Merci. Votre demande est reçue. Votre numéro de suivi est le {digits}.",
        "es": "Gracias. Recibimos su solicitud. Su número de seguimiento es {digits}.",
    },
    "repeat_number": {
        "en": "To hear the number again, press 1.",
        "fr": "Pour réentendre le numéro, appuyez sur le 1.",
        "es": "Para escuchar el número otra vez, oprima 1.",
    },
    "status_ask": {
        "en": "Please key your eight digit tracking number.",
        "fr": "Veuillez composer votre numéro de suivi à huit chiffres.",
        "es": "Por favor, marque su número de seguimiento de ocho dígitos.",
    },
    "status_invalid": {
        "en": "{digits} is not a valid tracking number.",
        "fr": "Le {digits} n'est pas un numéro de suivi valide.",
        "es": "{digits} no es un número de seguimiento válido.",
    },
    "status_not_found": {
        "en": "I could not find request {digits}.",
        "fr": "Je ne trouve pas la demande {digits}.",
        "es": "No encontré la solicitud {digits}.",
    },
    "status_answer": {
        "en": "Request {digits}, {service}: {status}.",
        "fr": "Demande {digits}, {service} : {status}.",
        "es": "Solicitud {digits}, {service}: {status}.",
    },
    "voicemail": {
        "en": "Please leave your message after the tone. Press pound when you are done.",
        "fr": "Veuillez laisser votre message après le signal sonore. "
        "Appuyez sur le carré pour terminer.",
        "es": "Por favor, deje su mensaje después del tono. Oprima numeral al terminar.",
    },
    "voicemail_saved": {
        "en": "Thank you, your message is recorded. Your tracking number is {digits}.",
        "fr": "Merci, votre message est enregistré. Votre numéro de suivi est le {digits}.",
        "es": "Gracias, su mensaje quedó grabado. Su número de seguimiento es {digits}.",
    },
    "nothing_recorded": {
        "en": "I did not hear a message.",
        "fr": "Je n'ai pas entendu de message.",
        "es": "No escuché ningún mensaje.",
    },
    "queue_position": {
        "en": "You are number {position} in line.",
        "fr": "Vous êtes le numéro {position} dans la file.",
        "es": "Usted es el número {position} en la fila.",
    },
    "queue_wait": {
        "en": "The expected wait is about {minutes} minutes.",
        "fr": "L'attente prévue est d'environ {minutes} minutes.",
        "es": "La espera prevista es de unos {minutes} minutos.",
    },
    "queue_hold": {
        "en": "Please stay on the line. An agent will be with you soon.",
        "fr": "Veuillez rester en ligne. Un agent vous répondra bientôt.",
        "es": "Por favor, no cuelgue. Un agente le atenderá pronto.",
    },
    "queue_overflow": {
        "en": "All our agents are still busy.",
        "fr": "Tous nos agents sont encore occupés.",
        "es": "Todos nuestros agentes siguen ocupados.",
    },
    "callback_offer": {
        "en": "To hang up and be called back without losing your place, press 1.",
        "fr": "Pour raccrocher et être rappelé sans perdre votre place, appuyez sur le 1.",
        "es": "Para colgar y recibir una llamada sin perder su lugar, oprima 1.",
    },
    "callback_confirmed": {
        "en": "We will call you back at the number ending in {last4}. Goodbye.",
        "fr": "Nous vous rappellerons au numéro se terminant par {last4}. Au revoir.",
        "es": "Le llamaremos al número que termina en {last4}. Adiós.",
    },
    "callback_no_number": {
        "en": "I cannot call you back: your number is hidden.",
        "fr": "Je ne peux pas vous rappeler : votre numéro est masqué.",
        "es": "No puedo devolverle la llamada: su número está oculto.",
    },
    "callback_greeting": {
        "en": "Hello, this is {city} 3-1-1 returning your call. Please hold for an agent.",
        "fr": "Bonjour, ici le 3-1-1 de {city}, qui vous rappelle. Un agent va vous répondre.",
        "es": "Hola, le llama el 3-1-1 de {city}. Por favor, espere a un agente.",
    },
    "connecting": {
        "en": "Connecting you to an agent.",
        "fr": "Nous vous transférons à un agent.",
        "es": "Le comunicamos con un agente.",
    },
    "agent_missed": {
        "en": "The agent could not take your call. You keep your place in line.",
        "fr": "L'agent n'a pas pu prendre votre appel. Vous gardez votre place.",
        "es": "El agente no pudo atenderle. Usted conserva su lugar.",
    },
    "incident_offer": {
        "en": "If you are calling about this, press {key}.",
        "fr": "Si vous appelez à ce sujet, appuyez sur le {key}.",
        "es": "Si llama por este motivo, oprima {key}.",
    },
    "incident_joined": {
        "en": "Thank you. Your call is added to this report. Your tracking number is {digits}.",
        "fr": "Merci. Votre appel est ajouté à ce signalement. "
        "Votre numéro de suivi est le {digits}.",
        "es": "Gracias. Su llamada se añadió a este reporte. Su número de seguimiento es {digits}.",
    },
    "unknown_number": {
        "en": "Sorry, this number does not answer for 3-1-1. "
        "Please check the number and call again.",
        "fr": "Désolé, ce numéro ne répond pas pour le 3-1-1. Veuillez vérifier le numéro.",
        "es": "Lo siento, este número no atiende el 3-1-1. Verifique el número y vuelva a llamar.",
    },
    "trouble": {
        "en": "We are sorry: our phone system is having trouble. Please call again in a few "
        "minutes. For an emergency, hang up and dial 9-1-1.",
        "fr": "Nous sommes désolés : notre système téléphonique éprouve des difficultés. "
        "Veuillez rappeler dans quelques minutes. En cas d'urgence, composez le 9-1-1.",
        "es": "Lo sentimos: nuestro sistema telefónico tiene problemas. Vuelva a llamar en unos "
        "minutos. Para una emergencia, cuelgue y marque 9-1-1.",
    },
}
